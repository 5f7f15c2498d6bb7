import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A real HTTP receiver on loopback that records deliveries and can fail on demand. */
export async function startWebhookReceiver() {
  const received: ReceivedWebhook[] = [];
  let failuresToSend = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      if (failuresToSend > 0) {
        failuresToSend--;
        res.writeHead(500).end('try again');
        return;
      }
      received.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/partner-access`,
    received,
    failNext(n: number) {
      failuresToSend = n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
