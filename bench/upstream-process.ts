/** The sample upstream as its own process, so in the gateway runs it never shares the API's event loop. */
import { startSampleUpstream } from '../runtime/sample-upstream.js';

const upstream = await startSampleUpstream();
process.send?.({ port: upstream.port });
process.on('SIGTERM', () => void upstream.close().then(() => process.exit(0)));
