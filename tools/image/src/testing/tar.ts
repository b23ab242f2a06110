// Test helpers that read layers back: list a gzip layer's tar headers, and unpack image layers into a dir.
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';

export interface ListedEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  linkname: string | null;
  content?: Buffer;
}

export async function listLayer(gz: Buffer, withContent = false): Promise<ListedEntry[]> {
  const extract = tar.extract();
  const out: ListedEntry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      const e: ListedEntry = {
        name: h.name, type: h.type, mode: h.mode, uid: h.uid, gid: h.gid, uname: h.uname, gname: h.gname,
        mtime: h.mtime.getTime(), linkname: h.linkname ?? null,
      };
      if (withContent && h.type === 'file') e.content = Buffer.concat(chunks);
      out.push(e);
    }
  })();
  extract.end(gunzipSync(gz));
  await done;
  return out;
}

/** Unpacks layers in order into dir (files, dirs, symlinks; whiteouts are not needed by our tests). */
export async function unpackLayers(layers: Buffer[], dir: string): Promise<void> {
  for (const gz of layers) {
    for (const e of await listLayer(gz, true)) {
      const dest = path.join(dir, e.name);
      if (!dest.startsWith(dir)) throw new Error(`layer entry ${e.name} escapes ${dir}`);
      if (e.type === 'directory') {
        await fs.mkdir(dest, { recursive: true });
        await fs.chmod(dest, e.mode);
      } else if (e.type === 'symlink') {
        await fs.mkdir(path.dirname(dest), { recursive: true });
        await fs.rm(dest, { force: true, recursive: true });
        await fs.symlink(e.linkname ?? '', dest);
      } else if (e.type === 'file') {
        await fs.mkdir(path.dirname(dest), { recursive: true });
        await fs.rm(dest, { force: true });
        await fs.writeFile(dest, e.content ?? Buffer.alloc(0), { mode: e.mode });
        await fs.chmod(dest, e.mode);
      }
    }
  }
}
