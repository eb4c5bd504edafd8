/** `npm run backend`: print which tfjs backend runs here (MUCO_BACKEND picks one) and its details as JSON. */
import { describeBackend, initBackend } from '../lib/backend';

void (async () => {
  const report = await initBackend();
  process.stdout.write(`${describeBackend(report)}\n${JSON.stringify(report, null, 2)}\n`);
})().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
