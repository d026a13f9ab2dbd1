// The official MCP TypeScript SDK against the service's /mcp endpoint (Streamable HTTP). Run by
// McpSdkIT (Maven) against the packaged service: node --test compat/mcp/test/
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const base = process.env.SERVICE_URL;
assert.ok(base, 'SERVICE_URL must be set');

const open = [];
async function connect() {
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`));
  const client = new Client({ name: 'interpreter-sandbox-tests', version: '1.0.0' });
  client.onerror = () => {};
  await client.connect(transport);
  open.push({ client, transport });
  return { client, transport };
}

after(async () => {
  for (const { client, transport } of open) {
    await transport.terminateSession().catch(() => {});
    await client.close().catch(() => {});
  }
});

async function sandboxIds() {
  const listed = await (await fetch(`${base}/sandboxes`)).json();
  return new Set(listed.sandboxes.map((s) => s.id).filter((id) => id !== 'default'));
}

const text = (result) => result.content.filter((c) => c.type === 'text').map((c) => c.text).join('');
const call = (client, name, args, options) => client.callTool({ name, arguments: args }, undefined, options);

let session;

test('initialize and list the tools, each with a schema and a description', async () => {
  session = await connect();
  const { tools } = await session.client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.deepEqual(names, ['execute_python', 'list_files', 'read_file', 'restart_kernel', 'run_command', 'write_file']);
  const execute = tools.find((t) => t.name === 'execute_python');
  assert.ok(execute.description.length > 50);
  assert.deepEqual(execute.inputSchema.required, ['code']);
  assert.equal(execute.inputSchema.properties.code.type, 'string');
});

test('execute_python keeps state, returns values, plots as images and errors as isError', async () => {
  const { client } = session;
  let result = await call(client, 'execute_python', { code: 'x = 20\nprint("half")\nx * 2' });
  assert.equal(result.isError, false);
  assert.equal(text(result), 'half\n40\n');
  result = await call(client, 'execute_python', { code: 'x + 1' });
  assert.equal(text(result), '21\n');

  result = await call(client, 'execute_python', {
    code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2], [3, 4])\nplt.show()',
  });
  const image = result.content.find((c) => c.type === 'image');
  assert.equal(image.mimeType, 'image/png');
  assert.ok(Buffer.from(image.data, 'base64').subarray(1, 4).toString() === 'PNG');

  result = await call(client, 'execute_python', { code: 'def f():\n    return 1 / 0\nf()' });
  assert.equal(result.isError, true);
  assert.match(text(result), /ZeroDivisionError: division by zero/);
  assert.doesNotMatch(text(result), /\u001b\[/, 'no ANSI colours');
});

test('a timeout interrupts the cell and says so; long output is cut with a note', async () => {
  const { client } = session;
  const started = Date.now();
  let result = await call(client, 'execute_python', { code: 'import time\ntime.sleep(30)', timeout_secs: 1 });
  assert.equal(result.isError, true);
  assert.match(text(result), /timed out after 1 s/);
  assert.ok(Date.now() - started < 15000);
  result = await call(client, 'execute_python', { code: 'print("y" * 50000)' });
  assert.ok(text(result).length < 21000);
  assert.match(text(result), /\[output truncated: \d+ more characters/);
});

test('progress during a long cell, and cancellation interrupts it with the state kept', async () => {
  const { client } = session;
  const ticks = [];
  const result = await call(client, 'execute_python', { code: 'import time\ntime.sleep(2.5)\nprint("slow")' }, {
    onprogress: (p) => ticks.push(p),
  });
  assert.equal(text(result), 'slow\n');
  assert.ok(ticks.length >= 1, 'progress notifications arrived');

  const controller = new AbortController();
  const started = Date.now();
  const long = call(client, 'execute_python', { code: 'import time\nfor _ in range(300): time.sleep(0.1)' }, {
    signal: controller.signal,
  });
  setTimeout(() => controller.abort(), 1000);
  await assert.rejects(long);
  const after = await call(client, 'execute_python', { code: 'x' });
  assert.equal(text(after), '20\n', 'variables kept');
  assert.ok(Date.now() - started < 15000, 'the cell was interrupted, not waited for');
});

test('write_file, read_file and list_files, inside /mnt/data only', async () => {
  const { client } = session;
  let result = await call(client, 'write_file', { path: '/mnt/data/notes/a.txt', content: 'hello\n' });
  assert.equal(result.isError, false);
  result = await call(client, 'read_file', { path: '/mnt/data/notes/a.txt' });
  assert.equal(text(result), 'hello\n');
  result = await call(client, 'execute_python', { code: 'open("/mnt/data/notes/a.txt").read()' });
  assert.equal(text(result), "'hello\\n'\n");
  result = await call(client, 'list_files', { path: '/mnt/data/notes' });
  assert.match(text(result), /file\s+6\s+a\.txt/);
  result = await call(client, 'read_file', { path: '/etc/passwd' });
  assert.equal(result.isError, true);
  assert.match(text(result), /only files under \/mnt\/data/);
  result = await call(client, 'write_file', { path: '/mnt/data/../etc/x', content: '' });
  assert.equal(result.isError, true);
  result = await call(client, 'run_command', { cmd: 'cat notes/a.txt; exit 4' });
  assert.equal(result.isError, true);
  assert.match(text(result), /hello\n\[exit code 4\]/);
});

test('resources list and read the session sandbox files', async () => {
  const { client } = session;
  const { resources } = await client.listResources();
  assert.ok(resources.some((r) => r.uri === 'sandbox://files'));
  const index = await client.readResource({ uri: 'sandbox://files' });
  assert.match(index.contents[0].text, /sandbox:\/\/files\/notes%2Fa\.txt/);
  const file = await client.readResource({ uri: 'sandbox://files/notes%2Fa.txt' });
  assert.equal(file.contents[0].text, 'hello\n');
});

test('bad input: unknown tool, wrong argument type', async () => {
  const { client } = session;
  await assert.rejects(call(client, 'no_such_tool', {}), /Invalid tool name|-32602/);
  const result = await call(client, 'execute_python', { code: { not: 'a string' } });
  assert.equal(result.isError, true);
});

test('two sessions do not see each other, and ending a session deletes its sandbox', async () => {
  const before = await sandboxIds();
  const a = await connect();
  const b = await connect();
  await Promise.all([
    call(a.client, 'execute_python', { code: 'secret = "a"\nopen("/mnt/data/mine.txt", "w").write("a")' }),
    call(b.client, 'execute_python', { code: 'secret = "b"' }),
  ]);
  let result = await call(b.client, 'execute_python', { code: 'import os\nsecret, os.path.exists("/mnt/data/mine.txt")' });
  assert.equal(text(result), "('b', False)\n");
  const during = await sandboxIds();
  const made = [...during].filter((id) => !before.has(id));
  assert.equal(made.length, 2, 'one sandbox per session');

  await a.transport.terminateSession();
  let left = await sandboxIds();
  for (let i = 0; i < 50 && made.filter((id) => left.has(id)).length > 1; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    left = await sandboxIds();
  }
  assert.equal(made.filter((id) => left.has(id)).length, 1, "the ended session's sandbox is gone, the other stays");
  result = await call(b.client, 'execute_python', { code: 'secret' });
  assert.equal(text(result), "'b'\n");
});
