// The official E2B JS SDK against this service, unchanged: only E2B_API_URL, E2B_SANDBOX_URL and
// E2B_API_KEY point it here. Run by E2bSdkIT (Maven) against the packaged service:
//   node --test compat/e2b/test/
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from '@e2b/code-interpreter';

for (const name of ['E2B_API_URL', 'E2B_SANDBOX_URL', 'E2B_API_KEY']) {
  assert.ok(process.env[name], `${name} must be set`);
}

const made = [];
async function create(opts) {
  const sandbox = await Sandbox.create(opts);
  made.push(sandbox);
  return sandbox;
}

after(async () => {
  for (const sandbox of made) {
    await Sandbox.kill(sandbox.sandboxId).catch(() => {});
  }
});

let sbx;

test('create, then run a value, a print with onStdout, an error, with state across calls', async () => {
  sbx = await create({ metadata: { suite: 'sdk', run: String(process.pid) } });
  assert.match(sbx.sandboxId, /^sb-/);
  let execution = await sbx.runCode('x = 41\nx + 1');
  assert.equal(execution.text, '42');
  assert.equal(execution.results.length, 1);
  assert.equal(execution.results[0].isMainResult, true);

  const lines = [];
  execution = await sbx.runCode('print("hello", x)\nimport sys\nprint("careful", file=sys.stderr)', {
    onStdout: (m) => lines.push(m.line ?? m),
  });
  assert.deepEqual(lines, ['hello 41\n']);
  assert.deepEqual(execution.logs.stdout, ['hello 41\n']);
  assert.deepEqual(execution.logs.stderr, ['careful\n']);

  execution = await sbx.runCode('1 / 0');
  assert.equal(execution.error.name, 'ZeroDivisionError');
  assert.equal(execution.error.value, 'division by zero');
  assert.match(execution.error.traceback, /ZeroDivisionError/);
});

test('a matplotlib plot comes back as png and as chart data', async () => {
  let execution = await sbx.runCode(
    'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [4, 5, 6], label="up")\n'
      + 'plt.title("Rise")\nplt.xlabel("t")\nplt.ylabel("v")\nplt.show()');
  assert.equal(execution.results.length, 1);
  const plot = execution.results[0];
  assert.ok(plot.png.length > 1000, 'a PNG image');
  assert.equal(plot.chart.type, 'line');
  assert.equal(plot.chart.title, 'Rise');
  assert.equal(plot.chart.x_label, 't');
  assert.deepEqual(plot.chart.elements, [{ label: 'up', points: [[1, 4], [2, 5], [3, 6]] }]);

  execution = await sbx.runCode('plt.bar(["a", "b"], [3, 5])\nplt.title("Bars")\nplt.show()');
  const bars = execution.results[0].chart;
  assert.equal(bars.type, 'bar');
  assert.deepEqual(bars.elements.map((e) => [e.label, e.value]), [['a', 3], ['b', 5]]);
});

test('a timeout interrupts the cell and keeps the state', async () => {
  const started = Date.now();
  await assert.rejects(
    sbx.runCode('import time\nfor _ in range(600): time.sleep(0.1)', { timeoutMs: 1500 }),
    (e) => e.name === 'TimeoutError');
  const execution = await sbx.runCode('x');
  assert.equal(execution.text, '41', 'the variables survived the interrupt');
  assert.ok(Date.now() - started < 30000, 'the cell was interrupted, not waited for');
});

test('envs apply to one execution only', async () => {
  let execution = await sbx.runCode('import os\nos.environ.get("GREETING")', { envs: { GREETING: 'hi' } });
  assert.equal(execution.text, "'hi'");
  execution = await sbx.runCode('os.environ.get("GREETING")');
  assert.equal(execution.text, undefined, 'None has no text result');
});

test('contexts have their own namespace and working directory', async () => {
  const context = await sbx.createCodeContext({ cwd: '/tmp' });
  let execution = await sbx.runCode('import os\nonly_here = 1\nos.getcwd()', { context });
  assert.equal(execution.text, "'/tmp'");
  execution = await sbx.runCode('"only_here" in globals()');
  assert.equal(execution.text, 'False');
  const contexts = await sbx.listCodeContexts();
  assert.deepEqual(contexts.map((c) => c.id), [context.id]);
  await sbx.restartCodeContext(context);
  execution = await sbx.runCode('"only_here" in globals()', { context });
  assert.equal(execution.text, 'False', 'restart empties the namespace');
  await sbx.removeCodeContext(context);
  assert.deepEqual(await sbx.listCodeContexts(), []);
});

test('files: write, read, list, rename, remove; /home/user is /mnt/data', async () => {
  await sbx.files.write('/home/user/data/a.csv', 'n\n1\n2\n');
  assert.equal(await sbx.files.read('/home/user/data/a.csv'), 'n\n1\n2\n');
  await sbx.files.write('/home/user/data/a.csv', 'n\n3\n'); // replaces
  let execution = await sbx.runCode('open("/mnt/data/data/a.csv").read()');
  assert.equal(execution.text, "'n\\n3\\n'", 'the kernel sees the same file under /mnt/data');
  const entries = await sbx.files.list('/home/user/data');
  assert.deepEqual(entries.map((e) => [e.name, e.type, e.size, e.path]), [['a.csv', 'file', 4, '/home/user/data/a.csv']]);
  await sbx.files.rename('/home/user/data/a.csv', '/home/user/data/b.csv');
  assert.equal(await sbx.files.exists('/home/user/data/a.csv'), false);
  await sbx.files.remove('/home/user/data');
  assert.equal(await sbx.files.exists('/home/user/data/b.csv'), false);
  await assert.rejects(sbx.files.read('/etc/passwd'), /403|only files under/);
  await sbx.files.write('raw.bin', new Uint8Array([0, 1, 2, 255]).buffer, { useOctetStream: true });
  assert.deepEqual([...(await sbx.files.read('/home/user/raw.bin', { format: 'bytes' }))], [0, 1, 2, 255]);
  await sbx.files.remove('raw.bin');
});

test('commands: output, exit code, stderr and a timeout', async () => {
  const result = await sbx.commands.run('echo "$GREETING from $(pwd)"; echo oops >&2', { envs: { GREETING: 'hi' } });
  assert.equal(result.exitCode, 0);
  assert.equal(result.stdout, 'hi from /home/user\n');
  assert.equal(result.stderr, 'oops\n');
  await assert.rejects(sbx.commands.run('echo partial; exit 3'), (e) => e.exitCode === 3 && e.stdout === 'partial\n');
  const started = Date.now();
  await assert.rejects(sbx.commands.run('sleep 30', { timeoutMs: 1500 }), (e) => e.name === 'TimeoutError');
  assert.ok(Date.now() - started < 15000);
  let running = await sbx.commands.list();
  for (let i = 0; i < 50 && running.length > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    running = await sbx.commands.list();
  }
  assert.deepEqual(running, [], 'the timed-out command is gone within 5 s');
  const leftovers = await sbx.commands.run('cat /proc/[0-9]*/cmdline | tr "\\0" " "');
  assert.doesNotMatch(leftovers.stdout, /sleep 30/, 'nothing of it is left in the sandbox');
});

test('setTimeout, list with metadata, pause and connect with state kept, kill', async () => {
  await sbx.setTimeout(600_000);
  const info = await sbx.getInfo();
  const left = (info.endAt.getTime() - Date.now()) / 1000;
  assert.ok(left > 590 && left <= 601, `ends about 600 s from now, not ${left}`);
  const other = await create({ metadata: { suite: 'other' } });
  const page = await Sandbox.list({ query: { metadata: { suite: 'sdk', run: String(process.pid) } } }).nextItems();
  assert.deepEqual(page.map((s) => s.sandboxId), [sbx.sandboxId]);
  assert.equal(page[0].state, 'running');
  assert.deepEqual(page[0].metadata, { suite: 'sdk', run: String(process.pid) });

  assert.equal(await sbx.pause(), true);
  const paused = await Sandbox.list({ query: { state: ['paused'] } }).nextItems();
  assert.ok(paused.some((s) => s.sandboxId === sbx.sandboxId));
  const back = await Sandbox.connect(sbx.sandboxId);
  const execution = await back.runCode('x + 1');
  assert.equal(execution.text, '42', `variables kept across pause and connect: ${JSON.stringify(execution.error)}`);

  assert.equal(await other.kill(), true);
  assert.equal(await Sandbox.kill(other.sandboxId), false, 'a second kill finds nothing');
});

test('a wrong API key is refused', async () => {
  await assert.rejects(Sandbox.create({ apiKey: 'e2b_00000000' }), (e) => e.name === 'AuthenticationError');
});

test("one sandbox's access token does not open another (403)", async () => {
  const second = await create();
  const response = await fetch(`${process.env.E2B_SANDBOX_URL}/execute`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'E2b-Sandbox-Id': second.sandboxId,
      'E2b-Sandbox-Port': '49999',
      'X-Access-Token': sbx.envdAccessToken,
    },
    body: JSON.stringify({ code: '1' }),
  });
  assert.equal(response.status, 403);
  const files = await fetch(`${process.env.E2B_SANDBOX_URL}/files?path=/home/user/x`, {
    headers: { 'E2b-Sandbox-Id': second.sandboxId, 'E2b-Sandbox-Port': '49983' },
  });
  assert.equal(files.status, 401, 'no token at all');
});

test('a multipart body its decoder refuses is a 400, not a 500', async () => {
  const form = new FormData();
  form.append('note', 'x'.repeat(4096)); // a field, not a file, over the decoder's 2 KiB
  const response = await fetch(`${process.env.E2B_SANDBOX_URL}/files?path=/home/user/note.txt`, {
    method: 'POST',
    headers: {
      'E2b-Sandbox-Id': sbx.sandboxId,
      'E2b-Sandbox-Port': '49983',
      'X-Access-Token': sbx.envdAccessToken,
    },
    body: form,
  });
  const text = await response.text();
  assert.equal(response.status, 400, text);
  assert.match(text, /the multipart body could not be read/);
});
