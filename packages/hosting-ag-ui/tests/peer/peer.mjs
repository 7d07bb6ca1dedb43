// The official AG-UI TypeScript client driving a conversation against the server at argv[2].
// Prints one JSON object: what the client saw, for the Python test to check.
import { HttpAgent } from "@ag-ui/client";

const url = process.argv[2];
const agent = new HttpAgent({ url, threadId: "node-thread" });
const tools = [
  {
    name: "get_weather",
    description: "Weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
];

async function turn(message) {
  if (message) agent.addMessage(message);
  const types = [];
  const calls = [];
  let text = "";
  await agent.runAgent(
    { tools },
    {
      onEvent({ event }) {
        types.push(event.type);
      },
      onTextMessageContentEvent({ event }) {
        text += event.delta;
      },
      onToolCallEndEvent({ toolCallName, toolCallArgs, event }) {
        calls.push({ id: event.toolCallId, name: toolCallName, args: toolCallArgs });
      },
    },
  );
  return { types, text, calls };
}

const first = await turn({ id: "n1", role: "user", content: "hello from node" });
const second = await turn({ id: "n2", role: "user", content: "second" });
const asked = await turn({ id: "n3", role: "user", content: 'call get_weather {"city": "Oslo"}' });
const call = asked.calls[0];
const answered = await turn({ id: "n4", role: "tool", toolCallId: call.id, content: `sunny in ${call.args.city}` });

// A second client joins the thread without its history: the server's MESSAGES_SNAPSHOT fills it in.
const joiner = new HttpAgent({ url, threadId: "node-thread" });
const joinTypes = [];
await joiner.runAgent({ tools }, { onEvent({ event }) { joinTypes.push(event.type); } });
const joinedRoles = joiner.messages.map((m) => m.role);
joiner.addMessage({ id: "j1", role: "user", content: "joined" });
let joinedText = "";
await joiner.runAgent({ tools }, { onTextMessageContentEvent({ event }) { joinedText += event.delta; } });
const joined = { types: joinTypes, roles: joinedRoles, text: joinedText };

// A server tool that needs approval ends the run with an interrupt; the next run resumes with the decision.
const approver = new HttpAgent({ url, threadId: "node-approvals" });
approver.addMessage({ id: "p1", role: "user", content: 'call delete_file {"path": "/tmp/node"}' });
let outcome = null;
await approver.runAgent({}, { onRunFinishedEvent({ event }) { outcome = event.outcome ?? null; } });
const pending = approver.pendingInterrupts.map((i) => ({ id: i.id, reason: i.reason }));
let resumedText = "";
await approver.runAgent(
  { resume: approver.pendingInterrupts.map((i) => ({ interruptId: i.id, status: "resolved", payload: { approved: true } })) },
  { onTextMessageContentEvent({ event }) { resumedText += event.delta; } },
);
const approval = { outcome: outcome?.type ?? null, pending, text: resumedText, left: approver.pendingInterrupts.length };

// Reasoning streams as a reasoning message the client keeps beside the answer.
const thinker = new HttpAgent({ url, threadId: "node-reasoning" });
thinker.addMessage({ id: "r1", role: "user", content: "think in node" });
let thought = "";
let encrypted = 0;
await thinker.runAgent(
  {},
  {
    onReasoningMessageContentEvent({ event }) { thought += event.delta; },
    onReasoningEncryptedValueEvent() { encrypted += 1; },
  },
);
const reasoning = { thought, encrypted, roles: thinker.messages.map((m) => m.role) };
console.log(
  JSON.stringify({
    first, second, asked, answered, joined, approval, reasoning, messages: agent.messages.map((m) => m.role),
  }),
);
