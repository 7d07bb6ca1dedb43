"""The Slack Events API path to the acknowledgement against a bare route doing the same work, under `wrk`.

    python benchmarks/bench_slack.py [--seconds 10] [--warmup 10] [--rounds 2] [--connections 32]

Every request is a new `message.im` event (its `event_id` counts up) from one of 64 users, signed as
Slack signs it: `wrk` computes HMAC-SHA256 of ``v0:<timestamp>:<body>`` for each request (a Lua
SHA-256 on the load core). The bare route verifies the signature, parses, skips a seen event id,
answers 200 and queues a turn for the user; the channel also claims the event id in the host's
state and queues the event for its conversation. The model never answers (`StalledClient`), so the
figures are those of the path to the acknowledgement alone.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _servers import SLACK_SECRET  # noqa: E402
from _wrk import TEMPLATE_LUA, Bench, Target, Template, server_process  # noqa: E402

SIGNED_LUA = (
    TEMPLATE_LUA
    + r"""
local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local rshift, lshift, ror, tobit = bit.rshift, bit.lshift, bit.ror, bit.tobit
local K = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local w = {}

local function sha256(message)
  local length = #message
  local bits = length * 8
  local tail = string.char(band(rshift(bits, 24), 255), band(rshift(bits, 16), 255), band(rshift(bits, 8), 255),
    band(bits, 255))
  message = message .. "\128" .. string.rep("\0", (55 - length) % 64) .. "\0\0\0\0" .. tail
  local h0, h1, h2, h3 = 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a
  local h4, h5, h6, h7 = 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
  for chunk = 1, #message, 64 do
    for i = 0, 15 do
      local p = chunk + i * 4
      local b1, b2, b3, b4 = string.byte(message, p, p + 3)
      w[i] = bor(lshift(b1, 24), lshift(b2, 16), lshift(b3, 8), b4)
    end
    for i = 16, 63 do
      local x, y = w[i - 15], w[i - 2]
      local s0 = bxor(ror(x, 7), ror(x, 18), rshift(x, 3))
      local s1 = bxor(ror(y, 17), ror(y, 19), rshift(y, 10))
      w[i] = tobit(w[i - 16] + s0 + w[i - 7] + s1)
    end
    local a, b, c, d, e, f, g, h = h0, h1, h2, h3, h4, h5, h6, h7
    for i = 0, 63 do
      local choice = bxor(band(e, f), band(bnot(e), g))
      local t1 = tobit(h + bxor(ror(e, 6), ror(e, 11), ror(e, 25)) + choice + K[i + 1] + w[i])
      local t2 = tobit(bxor(ror(a, 2), ror(a, 13), ror(a, 22)) + bxor(band(a, b), band(a, c), band(b, c)))
      h, g, f, e, d, c, b, a = g, f, e, tobit(d + t1), c, b, a, tobit(t1 + t2)
    end
    h0, h1, h2, h3 = tobit(h0 + a), tobit(h1 + b), tobit(h2 + c), tobit(h3 + d)
    h4, h5, h6, h7 = tobit(h4 + e), tobit(h5 + f), tobit(h6 + g), tobit(h7 + h)
  end
  local out = {}
  for i, v in ipairs({h0, h1, h2, h3, h4, h5, h6, h7}) do
    out[i] = string.char(band(rshift(v, 24), 255), band(rshift(v, 16), 255), band(rshift(v, 8), 255), band(v, 255))
  end
  return table.concat(out)
end

local inner, outer = "", ""
local function hmac_hex(message)
  local digest = sha256(outer .. sha256(inner .. message))
  return (string.gsub(digest, ".", function(ch) return string.format("%02x", string.byte(ch)) end))
end

function init(args)
  load_template(args)
  local key = args[3] .. string.rep("\0", 64 - #args[3])
  local ipad, opad = {}, {}
  for i = 1, 64 do
    local byte = string.byte(key, i)
    ipad[i] = string.char(bxor(byte, 0x36))
    opad[i] = string.char(bxor(byte, 0x5c))
  end
  inner, outer = table.concat(ipad), table.concat(opad)
end
function request()
  local text = next_body()
  local stamp = tostring(os.time())
  local signed = {}
  for name, value in pairs(headers) do signed[name] = value end
  signed["X-Slack-Request-Timestamp"] = stamp
  signed["X-Slack-Signature"] = "v0=" .. hmac_hex("v0:" .. stamp .. ":" .. text)
  return wrk.format("POST", path, signed, text)
end
"""
)


def slack_event() -> Template:
    event = {
        "token": "legacy",
        "team_id": "TBENCH",
        "api_app_id": "ABENCH",
        "type": "event_callback",
        "event_id": "Ev{n}",
        "event_time": 1700000000,
        "authorizations": [{"team_id": "TBENCH", "user_id": "UBENCH", "is_bot": True}],
        "event": {
            "type": "message",
            "channel": "D{chat}",
            "channel_type": "im",
            "user": "U{chat}",
            "text": "hello there",
            "ts": "1700000000.{n}",
            "event_ts": "1700000000.{n}",
        },
    }
    return Template("/slack/events", json.dumps(event), script=SIGNED_LUA, args=(SLACK_SECRET,))


def main() -> None:
    bench = Bench(__doc__)
    with server_process("slack-api") as api_port:
        env = {"BENCH_SLACK_API": f"http://127.0.0.1:{api_port}"}
        bench.pair(
            "slack events, to the acknowledgement",
            Target("bare", "bare-slack", slack_event(), env=env),
            Target("slack", "slack", slack_event(), env=env),
        )
    bench.report()


if __name__ == "__main__":
    main()
