// console/package.js — what a .bayplug file is and asks, read in the browser as `plugbay install FILE` reads it
// (docs/packages.md: a tar archive compressed with gzip, plugin.json at its top), and its parts for package.put.

// The most bytes one package.put part carries (the broker's BAY_PKG_PART).
const PART = 1 << 20;

// sha256 returns the SHA-256 of bytes (an ArrayBuffer) in lowercase hex.
export async function sha256(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// gunzip decompresses bytes: a gzip stream, perhaps followed by zero bytes (libarchive pads what `plugbay pack`
// writes to a whole 10240-byte block; Chromium's DecompressionStream refuses anything after the stream's end). The
// stream ends at the last non-zero byte or up to 8 bytes later (its trailer's CRC-32 and size may end in zeros).
async function gunzip(bytes) {
  const all = new Uint8Array(bytes);
  let end = all.length;
  while (end > 0 && all[end - 1] === 0) end--;
  let failed = null;
  for (let n = end; n <= Math.min(all.length, end + 8); n++) {
    try {
      return await inflate(all.subarray(0, n));
    } catch (e) {
      failed = e;
    }
  }
  throw failed;
}

const text = new TextDecoder();

// field reads a NUL-terminated header field.
function field(block, start, len) {
  const b = block.subarray(start, start + len);
  const end = b.indexOf(0);
  return text.decode(end < 0 ? b : b.subarray(0, end));
}

// pax reads the path of a pax extended header's records ("LEN path=VALUE\n"), or null.
function paxPath(data) {
  for (const rec of text.decode(data).split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(rec);
    if (m) return m[1];
  }
  return null;
}

// topFile returns the bytes of file name at the top of tar (a leading "./" is the top too), or null.
function topFile(tar, name) {
  let longName = null;
  for (let off = 0; off + 512 <= tar.length; ) {
    const block = tar.subarray(off, off + 512);
    if (block.every((b) => b === 0)) break;
    const size = parseInt(field(block, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(block[156] || 48);
    const prefix = field(block, 345, 155);
    const data = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      longName = paxPath(data);
      continue;
    }
    if (type === 'L') {
      longName = field(data, 0, data.length);
      continue;
    }
    let path = longName ?? (prefix ? `${prefix}/${field(block, 0, 100)}` : field(block, 0, 100));
    longName = null;
    if (path.startsWith('./')) path = path.slice(2);
    if ((type === '0' || type === '\0') && path === name) return data;
  }
  return null;
}

// read returns what the package file bytes is: {id, version, name, asked (permissions, as the broker lists them),
// signed}; throws an Error saying why it is no package.
export async function read(bytes) {
  let tar;
  try {
    tar = await gunzip(bytes);
  } catch {
    throw new Error('not a plugbay package (a tar archive compressed with gzip)');
  }
  const manifest = topFile(tar, 'plugin.json');
  if (manifest === null) throw new Error('no plugin.json at the top: not a plugin folder');
  let m;
  try {
    m = JSON.parse(text.decode(manifest));
  } catch (e) {
    throw new Error(`plugin.json: ${e.message}`);
  }
  const asked = [];
  for (const p of Array.isArray(m.permissions) ? m.permissions : []) if (!asked.includes(p)) asked.push(String(p));
  for (const p of Array.isArray(m.provides) ? m.provides : []) {
    const perm = `provide:${p && p.name}`;
    if (!asked.includes(perm)) asked.push(perm);
  }
  return {
    id: String(m.id ?? ''),
    name: String(m.name ?? ''),
    version: String(m.version ?? ''),
    asked,
    signed: topFile(tar, 'plugin.sig') !== null,
  };
}

// send sends bytes (named by sha) to plugbayd as package.put parts through upload, calling progress(sent, total).
export async function send(upload, bytes, sha, progress) {
  const total = bytes.byteLength;
  for (let offset = 0; offset < total; offset += PART) {
    const part = bytes.slice(offset, Math.min(offset + PART, total));
    await upload('package.put', { sha256: sha, size: total, offset }, part);
    progress(Math.min(offset + PART, total), total);
  }
}
