// A Web Worker of the benchmark page that times round trips of a
// parameter-sized buffer (431,080 floats, transferred each way) to a
// partner worker: through a MessagePort the page handed it, or through
// the Worker object of a partner it started itself. The partner, also
// this script, sends every buffer straight back.

const N = 431080;

function echo(endpoint) {
  endpoint.onmessage = (e) => endpoint.postMessage(e.data, [e.data.buffer]);
}

async function time(endpoint, rounds) {
  let buffer = new Float32Array(N);
  const once = () => new Promise((resolve) => {
    endpoint.onmessage = (e) => resolve(e.data);
    endpoint.postMessage(buffer, [buffer.buffer]);
  });
  for (let i = 0; i < 20; i++) buffer = await once();
  const start = performance.now();
  for (let i = 0; i < rounds; i++) buffer = await once();
  return (performance.now() - start) / rounds;
}

onmessage = async ({ data }) => {
  if (data.role === "echo") return echo(data.port ?? self);
  if (data.role === "port") return postMessage(await time(data.port, data.rounds));
  // "nested": start the partner, wait until it listens, then time.
  const partner = new Worker("/www/bench/relay.js");
  await new Promise((resolve) => (partner.onmessage = resolve));
  partner.postMessage({ role: "echo" });
  postMessage(await time(partner, data.rounds));
  partner.terminate();
};
postMessage("ready");
