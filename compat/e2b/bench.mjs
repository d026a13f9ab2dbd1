// Create -> first result, through the official E2B JS SDK and through the service's own API, side
// by side on one running service with a warm pool. Run by bench/e2b.py, which starts the service.
// Prints one JSON line: the milliseconds of each sample, per path.
import { Sandbox } from '@e2b/code-interpreter';

const base = process.env.SERVICE_URL;
const rounds = Number(process.env.ROUNDS ?? 15);

async function poolReady() {
  for (;;) {
    const r = await fetch(`${base}/q/health/ready`);
    const body = await r.json();
    const ready = body.checks?.map((c) => c.data?.warm_pool_ready).find((v) => v !== undefined) ?? 0;
    if (ready >= 1) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function viaSdk() {
  const started = performance.now();
  const sbx = await Sandbox.create();
  const execution = await sbx.runCode('1 + 1');
  const took = performance.now() - started;
  if (execution.text !== '2') throw new Error(`unexpected result ${JSON.stringify(execution)}`);
  await sbx.kill();
  return took;
}

async function viaOwnApi() {
  const started = performance.now();
  const created = await (await fetch(`${base}/sandboxes`, { method: 'POST', body: '{}' })).json();
  const result = await (await fetch(`${base}/sandboxes/${created.id}/execute`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code: '1 + 1' }),
  })).json();
  const took = performance.now() - started;
  if (result.events?.[0]?.data?.variants?.['text/plain'] !== '2') throw new Error(`unexpected ${JSON.stringify(result)}`);
  await fetch(`${base}/sandboxes/${created.id}`, { method: 'DELETE' });
  return took;
}

const samples = { e2b_sdk: [], own_api: [] };
for (let i = 0; i < rounds; i++) {
  // alternate which goes first, each from a refilled pool
  for (const [name, run] of i % 2 === 0 ? [['e2b_sdk', viaSdk], ['own_api', viaOwnApi]] : [['own_api', viaOwnApi], ['e2b_sdk', viaSdk]]) {
    await poolReady();
    samples[name].push(await run());
  }
}
console.log(JSON.stringify(samples));
