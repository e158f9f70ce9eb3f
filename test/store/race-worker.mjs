// Forked by contract.test.ts: hammers consume() on one limit and reports how many were allowed.
const { openJs, storeOptions, request, attempts } = JSON.parse(process.argv[2]);
const { openStore } = await import(openJs);
const store = await openStore(storeOptions);
process.send({ ready: true });
process.on('message', async () => {
  let allowed = 0;
  for (let i = 0; i < attempts; i++) {
    const r = await store.consume(request);
    if (r.allowed) allowed++;
  }
  await store.close();
  process.send({ allowed }, () => process.exit(0));
});
