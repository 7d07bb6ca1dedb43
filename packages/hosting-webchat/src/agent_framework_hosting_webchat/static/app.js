// The web chat: streams answers from the host's Responses channel and keeps the conversation in localStorage.
"use strict";

(() => {
  const MAX_KEPT_MESSAGES = 200;
  const POLL_MS = 2000;
  const meta = document.querySelector('meta[name="responses-url"]');
  const endpoint = new URL((meta && meta.content) || "/responses", document.baseURI).href;
  // The Responses channel serves its Conversations beside /responses (also under /v1).
  const conversationsUrl = new URL("conversations", endpoint).href;
  const conversationKey = "agent-framework-webchat:" + endpoint;
  const apiKeyKey = "agent-framework-webchat:api-key:" + new URL(endpoint).origin;

  const log = document.getElementById("log");
  const empty = document.getElementById("empty");
  const composer = document.getElementById("composer");
  const input = document.getElementById("input");
  const send = document.getElementById("send");
  const newChat = document.getElementById("new-chat");
  const auth = document.getElementById("auth");
  const apiKeyInput = document.getElementById("api-key");

  class ChatError extends Error {}

  let conversation = load();
  let inFlight = null;
  let syncing = false;

  // --- the conversation: a Responses Conversation on the host, its transcript kept in this browser ------
  // `cursor` is the id of the last conversation item the page has read; assistant messages the host adds
  // on its own (host.deliver) are read after it, while no answer is streaming.

  function fresh() {
    return { conversationId: null, cursor: null, messages: [] };
  }

  function load() {
    try {
      const saved = JSON.parse(localStorage.getItem(conversationKey) || "null");
      if (saved && Array.isArray(saved.messages)) {
        return {
          conversationId: typeof saved.conversationId === "string" ? saved.conversationId : null,
          cursor: typeof saved.cursor === "string" ? saved.cursor : null,
          messages: saved.messages.filter((m) => m && typeof m.text === "string" && (m.role === "user" || m.role === "assistant")),
        };
      }
    } catch (_) {
      // A corrupt entry starts a new chat.
    }
    return fresh();
  }

  function save() {
    conversation.messages = conversation.messages.slice(-MAX_KEPT_MESSAGES);
    try {
      localStorage.setItem(conversationKey, JSON.stringify(conversation));
    } catch (_) {
      // Storage full or disabled: the chat still works, it just will not survive a reload.
    }
  }

  function shown(itemId) {
    return conversation.messages.some((m) => m.id === itemId);
  }

  // --- rendering: text only, a little Markdown, never HTML from the model ------------------

  function appendInline(parent, text) {
    for (const part of text.split(/(`[^`\n]+`|\*\*[^*\n]+\*\*)/)) {
      if (!part) continue;
      if (part.length > 2 && part.startsWith("`") && part.endsWith("`")) {
        parent.appendChild(document.createElement("code")).textContent = part.slice(1, -1);
      } else if (part.length > 4 && part.startsWith("**") && part.endsWith("**")) {
        parent.appendChild(document.createElement("strong")).textContent = part.slice(2, -2);
      } else {
        parent.appendChild(document.createTextNode(part));
      }
    }
  }

  function render(element, text) {
    element.replaceChildren();
    text.split("```").forEach((part, index) => {
      if (index % 2 === 1) {
        const pre = element.appendChild(document.createElement("pre"));
        pre.appendChild(document.createElement("code")).textContent = part.replace(/^[\w+-]*\n/, "");
      } else {
        appendInline(element, part);
      }
    });
  }

  function addMessage(role, text) {
    empty.hidden = true;
    const element = document.createElement("div");
    element.className = "message " + role;
    if (role === "error") element.setAttribute("role", "alert");
    render(element, text);
    log.appendChild(element);
    log.scrollTop = log.scrollHeight;
    return element;
  }

  function showError(message) {
    addMessage("error", message);
  }

  function renderConversation() {
    log.querySelectorAll(".message").forEach((element) => element.remove());
    empty.hidden = conversation.messages.length > 0;
    for (const message of conversation.messages) {
      addMessage(message.role, message.text).dataset.state = message.stopped ? "stopped" : "done";
    }
  }

  function setBusy(busy) {
    document.body.dataset.busy = busy ? "true" : "false";
    send.textContent = busy ? "Stop" : "Send";
  }

  // --- the Responses API: a streamed POST, read as server-sent events -----------------------

  function headers() {
    const result = { "Content-Type": "application/json", Accept: "text/event-stream" };
    const key = localStorage.getItem(apiKeyKey);
    if (key) result.Authorization = "Bearer " + key;
    return result;
  }

  function parseFrame(frame) {
    let event = "message";
    const data = [];
    for (const line of frame.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return null;
    const text = data.join("\n");
    if (text === "[DONE]") return null;
    try {
      return { event, payload: JSON.parse(text) };
    } catch (_) {
      throw new ChatError("The host sent an event that is not JSON.");
    }
  }

  async function* events(body) {
    const reader = body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
      let boundary;
      while ((boundary = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const frame = buffer.slice(0, boundary);
        buffer = buffer.slice(boundary).replace(/^\r?\n\r?\n/, "");
        const parsed = parseFrame(frame);
        if (parsed) yield parsed;
      }
      if (done) break;
    }
    const last = parseFrame(buffer);
    if (last) yield last;
  }

  function outputText(response) {
    const texts = [];
    for (const item of (response && response.output) || []) {
      for (const part of (item && item.content) || []) {
        if (part && part.type === "output_text" && typeof part.text === "string") texts.push(part.text);
      }
    }
    return texts.join("\n\n");
  }

  async function errorFrom(response) {
    let message = "";
    try {
      const body = await response.json();
      message = (body && body.error && (body.error.message || body.error)) || "";
    } catch (_) {
      // Not JSON: use the status line.
    }
    return typeof message === "string" && message ? message : `The host answered ${response.status} ${response.statusText}.`;
  }

  async function failedRequest(response) {
    const message = await errorFrom(response);
    if (response.status === 401) {
      auth.hidden = false;
      apiKeyInput.focus();
      return new ChatError("This host needs an API key: " + message);
    }
    if (response.status === 404 && conversation.conversationId) {
      conversation.conversationId = null;
      conversation.cursor = null;
      save();
      return new ChatError(
        "The host no longer knows this conversation (restarted without --state-dir?). " +
          "The next message starts a new one. (" + message + ")"
      );
    }
    return new ChatError(message);
  }

  async function startConversation(signal) {
    const response = await fetch(conversationsUrl, { method: "POST", headers: headers(), body: "{}", signal });
    if (!response.ok) throw await failedRequest(response);
    const created = await response.json();
    conversation.conversationId = created.id;
    conversation.cursor = null;
    save();
  }

  // One bubble per output message: the agent's answer, and any message delivered into the conversation
  // while it streams. The first one to speak takes the bubble shown while waiting.
  class Answer {
    constructor(waiting) {
      this.waiting = waiting;
      this.items = [];
    }

    item(itemId) {
      let found = this.items.find((entry) => entry.id === itemId);
      if (!found) {
        const bubble = this.items.length === 0 ? this.waiting : addMessage("assistant", "");
        bubble.dataset.state = "streaming";
        found = { id: itemId, text: "", bubble };
        this.items.push(found);
      }
      return found;
    }

    add(itemId, delta) {
      const entry = this.item(itemId);
      entry.text += delta;
      render(entry.bubble, entry.text);
      log.scrollTop = log.scrollHeight;
    }

    get text() {
      return this.items.map((entry) => entry.text).join("");
    }

    end(state, stopped) {
      if (!this.items.length) this.waiting.remove();
      for (const entry of this.items) {
        entry.bubble.dataset.state = state;
        if (!entry.text) entry.bubble.remove();
        else if (state !== "failed") conversation.messages.push({ role: "assistant", text: entry.text, id: entry.id, stopped });
      }
      save();
    }
  }

  async function ask(text) {
    const controller = new AbortController();
    inFlight = controller;
    setBusy(true);
    conversation.messages.push({ role: "user", text });
    save();
    addMessage("user", text);
    const answer = new Answer(addMessage("assistant", ""));
    answer.waiting.dataset.state = "streaming";
    try {
      if (!conversation.conversationId) await startConversation(controller.signal);
      const request = { model: "agent", input: text, stream: true, conversation: conversation.conversationId };
      const response = await fetch(endpoint, {
        method: "POST", headers: headers(), body: JSON.stringify(request), signal: controller.signal,
      });
      if (!response.ok) throw await failedRequest(response);
      let finished = false;
      for await (const { event, payload } of events(response.body)) {
        const type = (payload && payload.type) || event;
        if (type === "response.output_text.delta") {
          answer.add(payload.item_id, typeof payload.delta === "string" ? payload.delta : "");
        } else if (type === "response.completed" || type === "response.incomplete") {
          finished = true;
          const output = (payload.response && payload.response.output) || [];
          for (const item of output) {
            if (item.type === "message" && !answer.items.some((e) => e.id === item.id)) answer.add(item.id, outputText({ output: [item] }));
          }
          if (type === "response.incomplete" && answer.items.length) answer.add(answer.items[answer.items.length - 1].id, "\n\n(The answer was cut short.)");
          if (output.length) conversation.cursor = output[output.length - 1].id;
        } else if (type === "response.failed") {
          const failure = (payload.response && payload.response.error) || {};
          throw new ChatError(failure.message || "The agent failed to answer.");
        } else if (type === "error") {
          throw new ChatError(payload.message || (payload.error && payload.error.message) || "The host reported an error.");
        }
      }
      if (!finished) throw new ChatError("The connection closed before the answer was complete.");
      answer.end("done", false);
    } catch (error) {
      if (controller.signal.aborted) {
        answer.end("stopped", true);
      } else {
        answer.end("failed", false);
        showError(error instanceof ChatError ? error.message : "Cannot reach the host: " + error.message);
      }
    } finally {
      if (inFlight === controller) inFlight = null;
      setBusy(inFlight !== null);
    }
    sync();
  }

  // --- messages the host delivers on its own: read the conversation's new items --------------------

  async function items(after) {
    const query = new URLSearchParams({ order: "asc", limit: "100" });
    if (after) query.set("after", after);
    const url = conversationsUrl + "/" + encodeURIComponent(conversation.conversationId) + "/items?" + query;
    return fetch(url, { headers: headers() });
  }

  async function sync() {
    if (syncing || inFlight || !conversation.conversationId) return;
    syncing = true;
    const id = conversation.conversationId;
    try {
      for (let pages = 0; pages < 20; pages++) {
        const response = await items(conversation.cursor);
        if (inFlight || conversation.conversationId !== id) return;
        if (response.status === 400 && conversation.cursor) {
          conversation.cursor = null; // the item it pointed at is gone: read from the start, skipping what is shown
          continue;
        }
        if (!response.ok) return;
        const page = await response.json();
        for (const item of page.data || []) {
          conversation.cursor = item.id;
          if (item.type !== "message" || item.role !== "assistant" || shown(item.id)) continue;
          const text = outputText({ output: [item] });
          conversation.messages.push({ role: "assistant", text, id: item.id });
          addMessage("assistant", text).dataset.state = "done";
        }
        save();
        if (!page.has_more) return;
      }
    } catch (_) {
      // Offline or the host is restarting: the next poll tries again.
    } finally {
      syncing = false;
    }
  }

  // --- wiring -----------------------------------------------------------------------------

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    if (inFlight) {
      inFlight.abort();
      return;
    }
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    ask(text);
  });

  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  newChat.addEventListener("click", () => {
    if (inFlight) inFlight.abort();
    conversation = fresh();
    save();
    renderConversation();
    input.focus();
  });

  auth.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = apiKeyInput.value.trim();
    if (!key) return;
    localStorage.setItem(apiKeyKey, key);
    apiKeyInput.value = "";
    auth.hidden = true;
    input.focus();
  });

  renderConversation();
  setBusy(false);
  input.focus();
  sync();
  setInterval(() => {
    if (document.visibilityState === "visible") sync();
  }, POLL_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") sync();
  });
})();
