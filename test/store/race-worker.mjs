// Forked by contract.test.ts. "race": hammers consume() on one limit, reports how many were
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
  for (let i = 0; i < attempts; i++) {
    try {
      if ((await store.consume(request)).allowed) allowed++;
    } catch (err) {
      failed++;
      error = `${err.name}: ${err.message}`;
    }
  }
  if (mode === 'hold') {
    process.send({ allowed, failed, error });
    return;
  }
  await store.close();
  process.send({ allowed, failed, error }, () => process.exit(0));
});
