import { Worker } from 'node:worker_threads';
import { RSA_KEY_OPTIONS, type RsaKeyPair } from './rsa';

/**
 * The thread's code (plain JavaScript, so it runs the same from src/ and dist/). It
 * lowers its own CPU priority first: on Linux niceness is per thread, so only this
 * thread runs at `nice` (19 by default), and the kernel gives the CPU to any other
 * thread of the service (requests, WebCrypto on libuv's pool) before it. Elsewhere it
 * may not be allowed: then it runs at normal priority, still one thread.
 */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { generateKeyPairSync } = require('node:crypto');
try { require('node:os').setPriority(workerData.nice); } catch {}
parentPort.on('message', () => {
  try {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', workerData.options);
    parentPort.postMessage({ publicKeyPem: publicKey, privateKeyDer: privateKey });
  } catch (error) {
    parentPort.postMessage({ failed: String(error && error.name) });
  }
});`;

type Reply = { publicKeyPem: string; privateKeyDer: Uint8Array } | { failed: string };

/**
 * RSA-2048 key pairs made on one thread of their own at a low CPU priority: at most
 * one core, never a thread of libuv's pool (decryptions run there), and (at nice 19)
 * only CPU time nothing else of the service wants. One key at a time. The thread
 * starts on first use and ends with close() (it never keeps the process alive).
 */
export class BackgroundKeyGenerator {
  constructor(private readonly nice = 19) {}

  private worker?: Worker;
  private pending?: { resolve: (pair: RsaKeyPair) => void; reject: (error: Error) => void };

  generate(): Promise<RsaKeyPair> {
    if (this.pending) return Promise.reject(new Error('a key pair is already being made'));
    const worker = this.thread();
    return new Promise<RsaKeyPair>((resolve, reject) => {
      this.pending = { resolve, reject };
      worker.postMessage('generate');
    });
  }

  /** Ends the thread (a key being made is abandoned: its promise rejects). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
    this.settle(new Error('key generator closed'));
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { options: RSA_KEY_OPTIONS, nice: this.nice } });
    worker.unref();
    worker.on('message', (reply: Reply) => {
      if ('failed' in reply) this.settle(new Error(`key generation failed: ${reply.failed}`));
      else {
        const der = reply.privateKeyDer;
        this.settle(null, { publicKeyPem: reply.publicKeyPem, privateKeyDer: Buffer.from(der.buffer, der.byteOffset, der.byteLength) });
      }
    });
    worker.on('error', (error) => this.settle(error));
    worker.on('exit', () => {
      if (this.worker === worker) this.worker = undefined;
      this.settle(new Error('key generator thread exited'));
    });
    this.worker = worker;
    return worker;
  }

  private settle(error: Error | null, pair?: RsaKeyPair) {
    const pending = this.pending;
    this.pending = undefined;
    if (!pending) return;
    if (error) pending.reject(error);
    else pending.resolve(pair!);
  }
}
