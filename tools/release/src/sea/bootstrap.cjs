'use strict';
// The main script of the single `telepresence` executable (a Node single-executable application):
// unpacks the CLI and root daemon bundles carried as assets and runs the one argv asks for.
//
// Why unpack instead of running from memory: the bundles are ES modules with top-level await (a
// SEA main script can only be CommonJS) and they load koffi's .node addon, which the dynamic
// loader can only open from a file. So the files are written once per build into a versioned
// cache dir (the dir name carries the version and a hash of every file, so two builds never share
// one) and run from there; later runs find the dir complete and only stat it.
//
// Only builtins can be required here (a SEA main script gets no file-system require).
const sea = require('node:sea');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');

/** argv[2] that runs the root daemon bundle instead of the CLI (the CLI spawns it this way). */
const ROOT_DAEMON_COMMAND = 'daemon-foreground';
/**
 * V8 flags the CLI wants for a daemon that NODE_OPTIONS does not accept (a SEA reads no node
 * options from argv); set before any bundle code runs.
 */
const V8_FLAGS_ENV = 'TELEPRESENCE_V8_FLAGS';

/** One line and the CLI's exit code for a user error (EXIT_CODES in @tel/errors; this file can import nothing). */
function fail(message, hint) {
  process.stderr.write(`telepresence: error: ${message}; ${hint}\n`);
  process.exit(2);
}

/**
 * Root gets a root-owned dir whatever the environment says: the root daemon runs under sudo with
 * the user's HOME and XDG_CACHE_HOME preserved, and must never load code the user could have
 * written.
 */
function cacheBase() {
  if (process.getuid() === 0) return '/var/cache/telepresence/exe';
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'telepresence', 'exe');
}

/** A dir we can trust: ours, writable by nobody else, and completely unpacked. */
function usable(dir) {
  try {
    const st = fs.lstatSync(dir);
    return st.isDirectory() && st.uid === process.getuid() && (st.mode & 0o022) === 0 && fs.existsSync(path.join(dir, '.complete'));
  } catch {
    return false;
  }
}

/** Unpack into a temp dir beside the target and rename it into place, so a reader never sees half a tree. */
function unpack(manifest, base, dir) {
  fs.mkdirSync(base, { recursive: true, mode: 0o755 });
  const tmp = fs.mkdtempSync(path.join(base, `.${manifest.id}-`));
  try {
    fs.chmodSync(tmp, 0o755);
    for (const file of manifest.files) {
      const target = path.join(tmp, file.path);
      fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
      fs.writeFileSync(target, new Uint8Array(sea.getAsset(file.asset)), { mode: file.mode });
    }
    fs.writeFileSync(path.join(tmp, '.complete'), `${manifest.id}\n`, { mode: 0o644 });
    fs.renameSync(tmp, dir);
  } catch (err) {
    fs.rmSync(tmp, { recursive: true, force: true });
    // Another telepresence process of this build unpacked it at the same moment: use theirs.
    if (!(err.code === 'EEXIST' || err.code === 'ENOTEMPTY') || !usable(dir)) throw err;
  }
}

function main() {
  const manifest = JSON.parse(sea.getAsset('manifest.json', 'utf8'));
  const base = cacheBase();
  const dir = path.join(base, manifest.id);
  if (!usable(dir)) {
    if (fs.existsSync(dir)) {
      fail(`${dir} is not a complete unpacked copy owned by this user`, `remove it ('rm -rf ${dir}') and run telepresence again`);
    }
    try {
      unpack(manifest, base, dir);
    } catch (err) {
      fail(`cannot unpack telepresence into ${base} (${err.code || err.message})`, 'make that directory writable or free some space (XDG_CACHE_HOME picks another place)');
    }
  }
  const isRootDaemon = process.argv[2] === ROOT_DAEMON_COMMAND;
  const script = path.join(dir, isRootDaemon ? manifest.entries['root-daemon'] : manifest.entries.cli);
  // The bundle sees the argv `node <script> <args>` would give it.
  process.argv = [process.execPath, script, ...process.argv.slice(isRootDaemon ? 3 : 2)];
  const flags = process.env[V8_FLAGS_ENV];
  if (flags) {
    delete process.env[V8_FLAGS_ENV];
    for (const flag of flags.split(' ').filter(Boolean)) v8.setFlagsFromString(flag);
  }
  // A SEA main script has no import(); a CommonJS file loaded from disk does.
  const load = path.join(dir, manifest.entries.loader);
  createRequire(load)(load)(pathToFileURL(script).href).catch((err) => {
    process.stderr.write(`telepresence: error: ${err && err.stack ? err.stack : err} (this is a bug)\n`);
    process.exit(70); // EXIT_CODES.bug
  });
}

main();
