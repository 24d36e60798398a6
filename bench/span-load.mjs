// The load of bench/span.mjs, in its own process: `node bench/span-load.mjs <port> <seconds>
// <route,route,...> [subjects]`. Each request goes to the next route in turn, as one of
// `subjects` (default METER_SUBJECTS) subjects (the `x-user` header); reports the request
// count over IPC.
import autocannon from 'autocannon';
import { METER_SUBJECTS, subjectName } from './common.mjs';

const [port, seconds, list, count] = process.argv.slice(2);
const subjects = Number(count ?? METER_SUBJECTS);
const routes = list.split(',');
let sent = 0;
const result = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections: 32,
  duration: Number(seconds),
  requests: [
    {
      method: 'GET',
      setupRequest: (request) => {
        const i = sent++;
        return {
          ...request,
          path: routes[i % routes.length],
          headers: {
            ...request.headers,
            'x-user': subjectName(Math.floor(i / routes.length) % subjects),
          },
        };
      },
    },
  ],
});
process.send({ total: result.requests.total });
