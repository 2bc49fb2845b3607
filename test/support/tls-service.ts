/**
 * A service served over HTTPS with mutual TLS, for the TLS tests of every runtime and of the
 * command line: an Express app on `https.createServer` that asks every client for a certificate
 * from the cluster's CA, with express-micro on it using `tls` as its client side.
 */
import express from 'express';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import expressMicro, { type ExpressMicro, type ExpressMicroOptions, type TlsOptions } from '../../src/index.ts';
import { SECRET } from '../helpers.ts';
import { certificates, type KeyPair } from './certificates.ts';
import { waitFor } from './conditions.ts';

/** A running TLS service and what it logged. */
export interface TlsService {
  micro: ExpressMicro;
  url: string;
  server: Server;
  warnings: string[];
  /** What it logged at debug (every failed attempt after the first, among others). */
  debug: string[];
  stop(): Promise<void>;
}

const running = new Set<{ stop(): Promise<void> }>();

/** Stops every TLS service started (and anything else registered with `stopLater`); call from afterEach. */
export async function stopTlsServices(): Promise<void> {
  await Promise.all([...running].map((service) => service.stop()));
  running.clear();
}

/** Registers something to stop with the TLS services. */
export function stopLater(thing: { stop(): Promise<void> }): void {
  running.add(thing);
}

/**
 * An Express app served by `https.createServer` that asks every client for a certificate from
 * the cluster's CA (`served`), with express-micro on it using `tls` as its client side.
 */
export async function startTls(serviceName: string, served: KeyPair, tls: TlsOptions, options: ExpressMicroOptions = {}): Promise<TlsService> {
  const { ca } = certificates();
  const app = express();
  const server = createServer({ ...served, ca, requestCert: true, rejectUnauthorized: true }, app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const warnings: string[] = [];
  const debug: string[] = [];
  const logger = { info() {}, debug: (message: string) => void debug.push(message), warn: (message: string) => void warnings.push(message), error: (message: string) => void warnings.push(message) };
  const micro = expressMicro(app, { serviceName, host: '127.0.0.1', port, secret: SECRET, pingInterval: 200, logger, tls, ...options });
  app.get('/users/:id', (req, res) => void res.json({ id: req.params.id, over: req.protocol }));
  await waitFor(() => micro.url !== undefined, `${serviceName} started`);
  const service: TlsService = {
    micro,
    url: micro.url as string,
    server,
    warnings,
    debug,
    async stop() {
      // Each phase is timed: on a busy machine a stop once outlasted Bun's 5 s hook timeout, and
      // the line below says which phase to look at if it happens again.
      const started = Date.now();
      await micro.close();
      const closed = Date.now();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      const took = Date.now() - started;
      if (took > 2000) console.warn(`tls-service: stopping ${serviceName} took ${took} ms (micro.close() ${closed - started} ms, server.close() ${took - (closed - started)} ms)`);
    },
  };
  running.add(service);
  return service;
}

