"""The PostgreSQL store's tables and functions, as numbered migrations the store applies itself."""

from __future__ import annotations

import re

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# Each migration is applied once, in order, in one transaction; `{s}` is the schema.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
CREATE TABLE {s}.afh_values (
    namespace text NOT NULL,
    key text NOT NULL,
    value jsonb NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX afh_values_expiry ON {s}.afh_values (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE {s}.afh_lists (
    namespace text NOT NULL,
    key text NOT NULL,
    length integer NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (namespace, key)
);
CREATE INDEX afh_lists_expiry ON {s}.afh_lists (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE {s}.afh_items (
    namespace text NOT NULL,
    key text NOT NULL,
    position integer NOT NULL,
    item jsonb NOT NULL,
    PRIMARY KEY (namespace, key, position),
    FOREIGN KEY (namespace, key) REFERENCES {s}.afh_lists (namespace, key) ON DELETE CASCADE
);

CREATE SEQUENCE {s}.afh_fence;
CREATE TABLE {s}.afh_leases (
    name text PRIMARY KEY,
    token text NOT NULL,
    fence bigint NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE TABLE {s}.afh_checkpoints (
    scope text NOT NULL,
    checkpoint_id text NOT NULL,
    workflow_name text NOT NULL,
    created double precision NOT NULL,
    data jsonb NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (scope, checkpoint_id)
);
CREATE INDEX afh_checkpoints_latest ON {s}.afh_checkpoints (scope, workflow_name, created);

CREATE FUNCTION {s}.afh_expiry(ttl_ms bigint) RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN ttl_ms IS NULL THEN NULL ELSE now() + ttl_ms * interval '1 millisecond' END
$$;

-- Whether every lease named by its token is still held (no tokens: true). Locks the rows, so a
-- takeover cannot commit between this check and the write that follows in the same transaction.
CREATE FUNCTION {s}.afh_fenced(tokens text[]) RETURNS boolean LANGUAGE sql AS $$
    SELECT count(*) = coalesce(array_length(tokens, 1), 0) FROM (
        SELECT 1 FROM {s}.afh_leases
        WHERE token = ANY(tokens) AND expires_at > clock_timestamp() FOR SHARE
    ) AS held
$$;

CREATE FUNCTION {s}.afh_set(p_ns text, p_key text, p_value jsonb, p_ttl_ms bigint, p_tokens text[])
RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF NOT {s}.afh_fenced(p_tokens) THEN
        RETURN false;
    END IF;
    INSERT INTO {s}.afh_values AS v (namespace, key, value, expires_at)
    VALUES (p_ns, p_key, p_value, {s}.afh_expiry(p_ttl_ms))
    ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at;
    RETURN true;
END
$$;

-- Append p_items (a JSON array) when the list holds exactly p_at items: 1 done, 0 refused, -1 lease lost.
CREATE FUNCTION {s}.afh_append(
    p_ns text, p_key text, p_at integer, p_items jsonb, p_ttl_ms bigint, p_tokens text[]
) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    current_length integer;
    current_expiry timestamptz;
    wanted timestamptz := {s}.afh_expiry(p_ttl_ms);
    added integer := jsonb_array_length(p_items);
BEGIN
    IF NOT {s}.afh_fenced(p_tokens) THEN
        RETURN -1;
    END IF;
    SELECT length, expires_at INTO current_length, current_expiry
    FROM {s}.afh_lists WHERE namespace = p_ns AND key = p_key FOR UPDATE;
    IF FOUND AND current_expiry IS NOT NULL AND current_expiry <= now() THEN
        DELETE FROM {s}.afh_lists WHERE namespace = p_ns AND key = p_key;
        current_length := NULL;
    END IF;
    IF current_length IS NULL THEN
        IF p_at <> 0 THEN
            RETURN 0;
        END IF;
        INSERT INTO {s}.afh_lists (namespace, key, length, expires_at)
        VALUES (p_ns, p_key, added, wanted) ON CONFLICT DO NOTHING;
        IF NOT FOUND THEN
            RETURN 0;
        END IF;
    ELSE
        IF current_length <> p_at THEN
            RETURN 0;
        END IF;
        UPDATE {s}.afh_lists SET
            length = length + added,
            expires_at = CASE WHEN wanted IS NULL OR current_expiry IS NULL THEN NULL
                              ELSE greatest(current_expiry, wanted) END
        WHERE namespace = p_ns AND key = p_key;
    END IF;
    INSERT INTO {s}.afh_items (namespace, key, position, item)
    SELECT p_ns, p_key, p_at + ordinality - 1, item
    FROM jsonb_array_elements(p_items) WITH ORDINALITY AS t(item, ordinality);
    RETURN 1;
END
$$;
""",
    ),
)
