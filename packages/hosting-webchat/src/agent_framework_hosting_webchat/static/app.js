// The web chat: streams answers from the host's Responses channel and keeps the conversation in localStorage.
"use strict";

(() => {
  const MAX_KEPT_MESSAGES = 200;
  const STOPPED_RETRIES = 20;
  const STOPPED_RETRY_MS = 250;
  const meta = document.querySelector('meta[name="responses-url"]');
  const endpoint = new URL((meta && meta.content) || "/responses", document.baseURI).href;
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

  // --- the conversation kept in this browser ---------------------------------------------

  function load() {
    try {
      const saved = JSON.parse(localStorage.getItem(conversationKey) || "null");
      if (saved && Array.isArray(saved.messages)) {
        return {
          previousResponseId: typeof saved.previousResponseId === "string" ? saved.previousResponseId : null,
          stoppedResponseId: typeof saved.stoppedResponseId === "string" ? saved.stoppedResponseId : null,
          messages: saved.messages.filter((m) => m && typeof m.text === "string" && (m.role === "user" || m.role === "assistant")),
        };
      }
    } catch (_) {
      // A corrupt entry starts a new chat.
    }
    return { previousResponseId: null, stoppedResponseId: null, messages: [] };
  }

  function save() {
    conversation.messages = conversation.messages.slice(-MAX_KEPT_MESSAGES);
    try {
      localStorage.setItem(conversationKey, JSON.stringify(conversation));
    } catch (_) {
      // Storage full or disabled: the chat still works, it just will not survive a reload.
    }
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

  async function failedRequest(response, previous) {
    const message = await errorFrom(response);
    if (response.status === 401) {
      auth.hidden = false;
      apiKeyInput.focus();
      return new ChatError("This host needs an API key: " + message);
    }
    if (response.status === 404 && previous) {
      conversation.previousResponseId = null;
      conversation.stoppedResponseId = null;
      save();
      return new ChatError(
        "The host no longer knows this conversation (restarted without --state-dir?). " +
          "The next message starts a new one. (" + message + ")"
      );
    }
    return new ChatError(message);
  }

  // A stopped answer is stored by the host as an incomplete response: the next message continues from it,
  // and its partial text stays in the page. The host may still be saving it when the next message goes out.
  function keepStopped(responseId, answer) {
    if (answer) conversation.messages.push({ role: "assistant", text: answer, stopped: true });
    if (responseId) {
      conversation.previousResponseId = responseId;
      conversation.stoppedResponseId = responseId;
    }
    save();
  }

  async function post(request, signal, previous) {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(endpoint, { method: "POST", headers: headers(), body: JSON.stringify(request), signal });
      const saving = response.status === 404 && previous && previous === conversation.stoppedResponseId;
      if (!saving || attempt >= STOPPED_RETRIES) return response;
      await new Promise((resolve) => setTimeout(resolve, STOPPED_RETRY_MS));
    }
  }

  async function ask(text) {
    const controller = new AbortController();
    inFlight = controller;
    setBusy(true);
    conversation.messages.push({ role: "user", text });
    save();
    addMessage("user", text);
    const bubble = addMessage("assistant", "");
    bubble.dataset.state = "streaming";
    const previous = conversation.previousResponseId;
    const request = { model: "agent", input: text, stream: true };
    if (previous) request.previous_response_id = previous;
    let answer = "";
    let itemId = null;
    let responseId = null;
    try {
      const response = await post(request, controller.signal, previous);
      if (!response.ok) throw await failedRequest(response, previous);
      conversation.stoppedResponseId = null;
      let finished = false;
      for await (const { event, payload } of events(response.body)) {
        const type = (payload && payload.type) || event;
        if (payload && payload.response && typeof payload.response.id === "string") responseId = payload.response.id;
        if (type === "response.output_text.delta") {
          if (itemId !== null && payload.item_id !== itemId && answer && !/\s$/.test(answer)) answer += "\n\n";
          itemId = payload.item_id;
          answer += typeof payload.delta === "string" ? payload.delta : "";
          render(bubble, answer);
          log.scrollTop = log.scrollHeight;
        } else if (type === "response.completed" || type === "response.incomplete") {
          finished = true;
          const result = payload.response || {};
          if (typeof result.id === "string") conversation.previousResponseId = result.id;
          if (!answer) answer = outputText(result);
          if (type === "response.incomplete") answer += "\n\n(The answer was cut short.)";
          render(bubble, answer);
        } else if (type === "response.failed") {
          const failure = (payload.response && payload.response.error) || {};
          throw new ChatError(failure.message || "The agent failed to answer.");
        } else if (type === "error") {
          throw new ChatError(payload.message || (payload.error && payload.error.message) || "The host reported an error.");
        }
      }
      if (!finished) throw new ChatError("The connection closed before the answer was complete.");
      bubble.dataset.state = "done";
      conversation.messages.push({ role: "assistant", text: answer });
      save();
    } catch (error) {
      if (controller.signal.aborted) {
        bubble.dataset.state = "stopped";
        if (!answer) bubble.remove();
        keepStopped(responseId, answer);
      } else {
        bubble.dataset.state = "failed";
        if (!answer) bubble.remove();
        showError(error instanceof ChatError ? error.message : "Cannot reach the host: " + error.message);
      }
    } finally {
      if (inFlight === controller) inFlight = null;
      setBusy(inFlight !== null);
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
    conversation = { previousResponseId: null, stoppedResponseId: null, messages: [] };
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
})();
