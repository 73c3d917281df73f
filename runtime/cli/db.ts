// `rt db migrate|status [--topology F]`: apply the schema migrations of sql/, or list which are
// applied and which are pending. The database is DATABASE_URL's, or else the embedded server of
// the topology's persistence section (started for the command and stopped after, unless it was
// already running). Exit codes: 0 done, 1 failure (the reason on stderr, no stack trace), 2 usage.
import { resolve } from 'node:path';
import { DatabaseError, maskUrl, openDatabase, type Database } from '../database.ts';
import { migrate, MigrationError, migrationStatus, SQL_DIR } from '../migrations.ts';
import { formatProblem, loadTopology, TopologyError } from '../topology.ts';

const USAGE = 'usage: rt db migrate|status [--topology <file>]';

export async function dbCommand(args: string[], defaultTopology: string): Promise<number> {
  const parsed = parseArgs(args);
  if (parsed.kind === 'help') {
    process.stdout.write(
      `${USAGE}\n` +
        '  migrate  apply every pending migration of sql/ (each in its own transaction)\n' +
        '  status   list applied and pending migrations; exit 1 if an applied one has changed\n' +
        '  The database: $DATABASE_URL, or else the embedded PostgreSQL of the topology\'s persistence\n' +
        `  section (data_dir, port), started for the command if it is not running.\n  --topology <file>  default ${defaultTopology}\n`,
    );
    return 0;
  }
  if (parsed.kind === 'usage') {
    process.stderr.write(`rt db: ${parsed.reason}\n${USAGE}\n`);
    return 2;
  }
  const name = `rt db ${parsed.action}`;
  let database: Database;
  try {
    database = await open(parsed.action, parsed.topology ?? defaultTopology);
  } catch (error) {
    return failed(name, error);
  }
  try {
    return parsed.action === 'migrate' ? await migrateAction(database) : await statusAction(database);
  } catch (error) {
    return failed(name, error);
  } finally {
    await database.close();
  }
}

async function open(action: 'migrate' | 'status', topologyFile: string): Promise<Database> {
  const url = process.env.DATABASE_URL;
  if (url !== undefined && url !== '') return openDatabase({ url, dataDir: '', port: 0, poolMax: 1, migrate: false });
  // Only the embedded server needs the topology (its persistence section).
  const { persistence } = loadTopology(topologyFile);
  const database = await openDatabase({ dataDir: resolve(persistence.dataDir), port: persistence.port, poolMax: 1, migrate: false });
  process.stdout.write(`rt db ${action}: embedded PostgreSQL ${maskUrl(database.url)} (data ${resolve(persistence.dataDir)})\n`);
  return database;
}

async function migrateAction(database: Database): Promise<number> {
  const result = await migrate(database.pool, SQL_DIR);
  for (const version of result.applied) process.stdout.write(`applied ${version}\n`);
  process.stdout.write(
    `${maskUrl(database.url)}: ${result.applied.length} migration${result.applied.length === 1 ? '' : 's'} applied, ${result.alreadyApplied.length} already applied\n`,
  );
  return 0;
}

async function statusAction(database: Database): Promise<number> {
  const status = await migrationStatus(database.pool, SQL_DIR);
  for (const applied of status.applied) {
    const note = status.changed.includes(applied.version) ? '  CHANGED since it was applied' : status.unknown.includes(applied.version) ? '  (no such file here)' : '';
    process.stdout.write(`applied  ${applied.version}  ${applied.appliedAt.toISOString()}${note}\n`);
  }
  for (const version of status.pending) process.stdout.write(`pending  ${version}\n`);
  process.stdout.write(`${maskUrl(database.url)}: ${status.applied.length} applied, ${status.pending.length} pending\n`);
  if (status.changed.length > 0) {
    process.stderr.write(`rt db status: ${status.changed.join(', ')} changed after being applied; rt db migrate will refuse to run: restore the file(s) and add a new migration instead\n`);
    return 1;
  }
  return 0;
}

function failed(name: string, error: unknown): number {
  if (error instanceof TopologyError) {
    for (const problem of error.problems) process.stderr.write(`${formatProblem(problem)}\n`);
  } else if (error instanceof DatabaseError || error instanceof MigrationError) {
    process.stderr.write(`${name}: ${error.message}\n`);
  } else {
    process.stderr.write(`${name}: ${error instanceof Error ? error.message : String(error)}\n`);
  }
  return 1;
}

type Parsed =
  | { readonly kind: 'run'; readonly action: 'migrate' | 'status'; readonly topology: string | undefined }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage'; readonly reason: string };

function parseArgs(args: readonly string[]): Parsed {
  let action: 'migrate' | 'status' | undefined;
  let topology: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '-h' || arg === '--help') return { kind: 'help' };
    if (arg === '--topology' || arg.startsWith('--topology=')) {
      const value = arg === '--topology' ? args[++i] : arg.slice('--topology='.length);
      if (value === undefined || value === '' || value.startsWith('-')) return { kind: 'usage', reason: '--topology needs a file' };
      if (topology !== undefined) return { kind: 'usage', reason: '--topology given twice' };
      topology = value;
    } else if (arg.startsWith('-')) {
      return { kind: 'usage', reason: `unknown option ${arg}` };
    } else if (action === undefined) {
      if (arg !== 'migrate' && arg !== 'status') return { kind: 'usage', reason: `unknown action "${arg}": expected migrate or status` };
      action = arg;
    } else {
      return { kind: 'usage', reason: `unexpected argument ${arg}` };
    }
  }
  if (action === undefined) return { kind: 'usage', reason: 'missing action: expected migrate or status' };
  return { kind: 'run', action, topology };
}
