'use strict';
// Cumulo's Node.js runtime: loads `_HANDLER` from the task root and serves invocations over the
// Lambda Runtime API at AWS_LAMBDA_RUNTIME_API (next -> handler -> response | error; init/error).
// The contract is AWS's Node.js one: CommonJS and ES modules, async and callback handlers, the
// context object, console lines as `time\trequestId\tLEVEL\tmessage`, errors as
// {errorType, errorMessage, trace}. Node's standard library only.

const http = require('http');
const fs = require('fs');
const path = require('path');
const util = require('util');
const { pathToFileURL } = require('url');

const [HOST, PORT] = (process.env.AWS_LAMBDA_RUNTIME_API || '127.0.0.1:9001').split(':');
const BASE = '/2018-06-01/runtime';
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || process.cwd();

let currentRequestId;

// -- the Runtime API client ----------------------------------------------------------------
// One kept-alive connection, one request at a time, answers with Content-Length (the only kind
// the Runtime API sends): leaner than the http module on the per-invoke path. The socket is
// unref'd while idle, so an empty event loop stays detectable (callbackWaitsForEmptyEventLoop).
const net = require('net');

const client = { sock: null, buf: Buffer.alloc(0), pending: null, queue: [] };

function connectClient() {
  const sock = net.connect({ host: HOST, port: Number(PORT), noDelay: true });
  sock.setNoDelay(true);
  sock.unref();
  sock.on('data', (data) => {
    client.buf = client.buf.length ? Buffer.concat([client.buf, data]) : data;
    parseReply();
  });
  const fail = (err) => {
    client.sock = null;
    client.buf = Buffer.alloc(0);
    const pending = client.pending;
    client.pending = null;
    if (pending) pending.reject(err || new Error('Runtime API connection closed'));
  };
  sock.on('error', fail);
  sock.on('close', () => fail());
  client.sock = sock;
  return sock;
}

function parseReply() {
  const pending = client.pending;
  if (!pending) return;
  const end = client.buf.indexOf('\r\n\r\n');
  if (end < 0) return;
  const lines = client.buf.toString('latin1', 0, end).split('\r\n');
  const headers = {};
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
  }
  const length = Number(headers['content-length'] || 0);
  if (client.buf.length < end + 4 + length) return;
  const body = client.buf.subarray(end + 4, end + 4 + length);
  client.buf = client.buf.subarray(end + 4 + length);
  client.pending = null;
  client.sock.unref();
  pending.resolve({ status: Number(lines[0].split(' ')[1]), headers, body });
  if (client.queue.length) client.queue.shift()();
}

function call(method, route, body, headers) {
  return new Promise((resolve, reject) => {
    const send = () => {
      const data = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
      let head = `${method} ${BASE}${route} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nContent-Length: ${data.length}\r\n`;
      if (data.length) head += 'Content-Type: application/json\r\n';
      for (const [name, value] of Object.entries(headers || {})) head += `${name}: ${value}\r\n`;
      client.pending = { resolve, reject };
      const sock = client.sock || connectClient();
      sock.ref();
      sock.write(data.length ? Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), data]) : head + '\r\n');
    };
    if (client.pending) client.queue.push(send);
    else send();
  });
}

// -- logging, as AWS's Node.js runtime formats it ---------------------------------------
function installConsole() {
  const write = (level) => (...args) => {
    const message = util.format(...args).replace(/\n/g, '\r');
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId || 'undefined'}\t${level}\t${message}\n`);
  };
  console.log = write('INFO');
  console.info = write('INFO');
  console.warn = write('WARN');
  console.error = write('ERROR');
  console.debug = write('DEBUG');
  console.trace = write('TRACE');
}

// -- errors ---------------------------------------------------------------------------------
function errorDocument(err, forcedType) {
  if (err instanceof Error) {
    return {
      errorType: forcedType || err.name || 'Error',
      errorMessage: err.message,
      trace: typeof err.stack === 'string' ? err.stack.split('\n') : [],
    };
  }
  return { errorType: forcedType || typeof err, errorMessage: typeof err === 'string' ? err : util.format(err), trace: [] };
}

class InitError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.name = type;
    this.cause = cause;
  }
}

function logError(label, doc) {
  console.error(`${label} \t${JSON.stringify({ errorType: doc.errorType, errorMessage: doc.errorMessage, stack: doc.trace })}`);
}

// -- loading the handler ------------------------------------------------------------------
function isEsm(file) {
  if (file.endsWith('.mjs')) return true;
  if (file.endsWith('.cjs')) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        return JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module';
      } catch (_) {
        return false;
      }
    }
    if (dir === path.dirname(dir) || dir === path.dirname(TASK_ROOT)) return false;
  }
}

async function loadModule(modulePath) {
  const base = path.resolve(TASK_ROOT, modulePath);
  const file = ['.js', '.mjs', '.cjs'].map((ext) => base + ext).find((f) => fs.existsSync(f));
  try {
    if (file === undefined) {
      return require(require.resolve(modulePath, { paths: [TASK_ROOT, ...(process.env.NODE_PATH || '').split(':')] }));
    }
    if (isEsm(file)) return await import(pathToFileURL(file).href);
    try {
      return require(file);
    } catch (err) {
      if (err && err.code === 'ERR_REQUIRE_ESM') return await import(pathToFileURL(file).href);
      throw err;
    }
  } catch (err) {
    if (err instanceof SyntaxError) throw new InitError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err);
    if (err && err.code === 'MODULE_NOT_FOUND' && String(err.message).includes(`'${modulePath}'`)) {
      throw new InitError('Runtime.ImportModuleError', `Error: Cannot find module '${path.basename(modulePath)}'`, err);
    }
    throw err;
  }
}

async function loadHandler(spec) {
  const match = /^([^.]*)\.(.+)$/.exec(path.basename(spec || ''));
  if (!match) throw new InitError('Runtime.MalformedHandlerName', 'Bad handler');
  const modulePath = path.join(path.dirname(spec), match[1]);
  const mod = await loadModule(modulePath);
  const fn = match[2].split('.').reduce((obj, key) => (obj == null ? undefined : obj[key]), mod);
  if (typeof fn !== 'function') {
    throw new InitError('Runtime.HandlerNotFound', `${path.basename(spec)} is undefined or not exported`);
  }
  return fn;
}

// -- one invocation -----------------------------------------------------------------------
function header(headers, name) {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseJsonHeader(value) {
  if (value === undefined || value === '') return undefined;
  try {
    return JSON.parse(value);
  } catch (_) {
    return undefined;
  }
}

function emptyEventLoop() {
  return new Promise((resolve) => process.once('beforeExit', resolve));
}

function makeContext(headers, finish) {
  const env = process.env;
  const deadline = Number(header(headers, 'lambda-runtime-deadline-ms'));
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: header(headers, 'lambda-runtime-invoked-function-arn'),
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: header(headers, 'lambda-runtime-aws-request-id'),
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parseJsonHeader(header(headers, 'lambda-runtime-cognito-identity')),
    clientContext: parseJsonHeader(header(headers, 'lambda-runtime-client-context')),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
    done: (err, value) => finish(err, value, false),
    succeed: (value) => finish(null, value, false),
    fail: (err) => finish(err === undefined || err === null ? 'handled' : err, undefined, false),
  };
}

function runHandler(handler, event, headers) {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (err, value, waitForLoop) => {
      if (settled) return;
      settled = true;
      const outcome = err !== undefined && err !== null ? { error: err } : { value };
      if (waitForLoop) emptyEventLoop().then(() => resolve(outcome));
      else resolve(outcome);
    };
    const context = makeContext(headers, finish);
    const callback = (err, value) => finish(err, value, context.callbackWaitsForEmptyEventLoop);
    let result;
    try {
      result = handler(event, context, callback);
    } catch (err) {
      finish(err, undefined, false);
      return;
    }
    if (result && typeof result.then === 'function') {
      result.then((value) => finish(null, value, false), (err) => finish(err === undefined || err === null ? new Error(String(err)) : err, undefined, false));
    } else {
      // no promise: the answer is what the callback gets, or null once the event loop is empty
      emptyEventLoop().then(() => finish(null, null, false));
    }
  });
}

// -- response streaming: awslambda.streamifyResponse ------------------------------------
const STREAMING = Symbol.for('cumulo.streamifyResponse');
const ERROR_TRAILERS = 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body';

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = true;
    return handler;
  },
  HttpResponseStream: {
    from(stream, prelude) {
      stream.setContentType('application/vnd.awslambda.http-integration-response');
      stream.write(JSON.stringify(prelude || {}));
      stream.write(Buffer.alloc(8));
      return stream;
    },
  },
};

function responseStream(id) {
  const { Writable } = require('stream');
  let req;
  let contentType = 'application/octet-stream';
  let settle;
  const answered = new Promise((resolve) => { settle = resolve; });
  const open = () => {
    if (req) return req;
    req = http.request({
      host: HOST, port: PORT, path: `${BASE}/invocation/${id}/response`, method: 'POST', agent, noDelay: true,
      headers: { 'Content-Type': contentType, 'Transfer-Encoding': 'chunked', Trailer: ERROR_TRAILERS,
        'Lambda-Runtime-Function-Response-Mode': 'streaming' },
    }, (res) => { res.resume(); res.on('end', () => settle(res.statusCode)); });
    req.on('error', () => settle(0));
    return req;
  };
  const stream = new Writable({
    write(chunk, encoding, callback) { open().write(chunk, callback); },
    final(callback) { open().end(); callback(); },
  });
  stream.setContentType = (type) => { contentType = type; };
  stream.failWith = (doc) => {
    const r = open();
    r.addTrailers({ 'Lambda-Runtime-Function-Error-Type': doc.errorType,
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(doc)).toString('base64') });
    r.end();
  };
  stream.answered = answered;
  return stream;
}

async function runStreaming(handler, event, headers, id) {
  const stream = responseStream(id);
  try {
    await handler(event, stream, makeContext(headers, () => {}));
    if (!stream.writableEnded) stream.end();
  } catch (err) {
    const doc = errorDocument(err);
    logError('Invoke Error', doc);
    if (!stream.writableEnded) stream.failWith(doc);
  }
  await stream.answered;
}

async function postError(route, doc, type) {
  return call('POST', route, JSON.stringify(doc), { 'Lambda-Runtime-Function-Error-Type': type || doc.errorType });
}

async function serve(handler) {
  for (;;) {
    const next = await call('GET', '/invocation/next');
    if (next.status !== 200) {
      console.error(`Runtime API answered ${next.status} to next: ${next.body}`);
      process.exit(1);
    }
    const id = header(next.headers, 'lambda-runtime-aws-request-id');
    currentRequestId = id;
    const trace = header(next.headers, 'lambda-runtime-trace-id');
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = JSON.parse(next.body.toString('utf8'));
    } catch (err) {
      await postError(`/invocation/${id}/error`, errorDocument(err, 'Runtime.UnmarshalError'));
      continue;
    }
    if (handler[STREAMING]) {
      await runStreaming(handler, event, next.headers, id);
      continue;
    }
    const outcome = await runHandler(handler, event, next.headers);
    if ('error' in outcome) {
      const doc = errorDocument(outcome.error);
      logError('Invoke Error', doc);
      await postError(`/invocation/${id}/error`, doc);
      continue;
    }
    let body;
    try {
      body = JSON.stringify(outcome.value === undefined ? null : outcome.value);
    } catch (err) {
      const doc = errorDocument(err, 'Runtime.MarshalError');
      logError('Invoke Error', doc);
      await postError(`/invocation/${id}/error`, doc);
      continue;
    }
    const answer = await call('POST', `/invocation/${id}/response`, body);
    if (answer.status === 413) console.error(`Response payload too large: ${answer.body}`);
  }
}

function crash(kind) {
  return (reason) => {
    const doc = errorDocument(reason, kind);
    logError(kind === 'Runtime.UnhandledPromiseRejection' ? 'Unhandled Promise Rejection' : 'Uncaught Exception', doc);
    const route = currentRequestId ? `/invocation/${currentRequestId}/error` : '/init/error';
    postError(route, doc).finally(() => process.exit(129));
  };
}

async function main() {
  installConsole();
  process.on('uncaughtException', crash(undefined));
  process.on('unhandledRejection', crash('Runtime.UnhandledPromiseRejection'));
  let handler;
  try {
    handler = await loadHandler(process.env._HANDLER);
  } catch (err) {
    const doc = errorDocument(err);
    logError('INIT_ERROR', doc);
    await postError('/init/error', doc);
    process.exit(129);
  }
  await serve(handler);
}

main();
