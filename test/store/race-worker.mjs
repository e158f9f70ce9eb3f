// Forked by contract.test.ts. "race": hammers consume() and countAndConsume() on one limit, reports how many were
// allowed and how many calls failed (and why). "hold": charges `attempts` times, reports, then
// waits to be killed (the parent checks what survives a kill -9).
const { openJs, storeOptions, request, attempts, mode = 'race' } = JSON.parse(process.argv[2]);
const { openStore } = await import(openJs);
const store = await openStore(storeOptions);
process.send({ ready: true });
process.on('message', async () => {
  let allowed = 0;
  let failed = 0;
  let error;
  // Ten calls at a time, half of them message calls (which the Redis store batches per round
  // trip), half plain consumes: every path must stay exact against the other processes.
  const one = async (i) => {
    try {
      const r = i % 2
        ? (await store.countAndConsume([{ kind: 'incr', key: `{t:race}split:${process.pid}:${i}`, by: 1, ttlMs: 60_000 }], { requests: request, skipIf: [] })).consume
        : await store.consume(request);
      if (r.allowed) allowed++;
    } catch (err) {
      failed++;
      error = `${err.name}: ${err.message}`;
    }
  };
  for (let i = 0; i < attempts; i += 10) {
    await Promise.all(Array.from({ length: Math.min(10, attempts - i) }, (_, k) => one(i + k)));
  }
  if (mode === 'hold') {
    process.send({ allowed, failed, error });
    return;
  }
  await store.close();
  process.send({ allowed, failed, error }, () => process.exit(0));
});
