/**
 * `--app`: services read from their TypeScript (or JavaScript) source with the compiler API,
 * with each route's answer type inferred from its handler. TypeScript is loaded only here.
 */
import { CliError } from '../../../errors.ts';
import type { RouteModel, ServiceModel } from '../model.ts';
import { answerReader, type Answer } from './answers.ts';
import { collectSubscriptions } from './events.ts';
import { handlerReader } from './handlers.ts';
import { jsonTypePrinter, union } from './json-type.ts';
import { programsFor, reachableFiles } from './program.ts';
import { collectRegistrations } from './registrations.ts';
import { publishedRoutes } from './routes.ts';
import { findServiceCall } from './service.ts';
import { callsIn, source, type SourceWarning } from './syntax.ts';
import { loadTypeScript } from './typescript.ts';

/** One `--app` file (absolute), with the `--name` given after it, if any. */
export interface AppSource {
  readonly file: string;
  /** What the user typed, for messages. */
  readonly label: string;
  readonly name?: string | undefined;
}

/** The services read from source, and what could not be followed. */
export interface SourceResult {
  readonly services: readonly ServiceModel[];
  readonly warnings: readonly SourceWarning[];
}

const SERVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** The answer of a route several registrations serve (the same method and path declared twice). */
function combine(answers: readonly Answer[]): Answer {
  const unknown = answers.find((answer) => answer.type === undefined);
  if (unknown !== undefined) return unknown;
  const notes = [...new Set(answers.map((answer) => answer.note).filter((note) => note !== undefined))];
  return { type: union(answers.map((answer) => answer.type as string)), note: notes.length === 0 ? undefined : notes.join('; ') };
}

/** Reads each app's service from its source. */
export async function readSources(apps: readonly AppSource[]): Promise<SourceResult> {
  const ts = await loadTypeScript();
  const programs = programsFor(ts, apps.map((app) => app.file));
  const services: ServiceModel[] = [];
  const warnings: SourceWarning[] = [];
  for (const app of apps) {
    const program = programs.get(app.file);
    const root = program?.getSourceFile(app.file);
    if (program === undefined || root === undefined) throw new CliError(`--app ${app.label}: TypeScript cannot read this file`);
    const shared = source(ts, program.getTypeChecker());
    const handlers = handlerReader(shared);
    const answers = answerReader(ts, program);
    const calls = callsIn(ts, reachableFiles(ts, program, root));
    let service;
    try {
      service = findServiceCall(shared, calls, root);
    } catch (error) {
      throw new CliError(`--app ${app.label}: ${(error as Error).message}`);
    }
    const name = app.name ?? service.name;
    if (name === undefined) {
      throw new CliError(`--app ${app.label}: the service's name is not a literal serviceName in its expressMicro() call; give it with --name after --app`);
    }
    if (!SERVICE_NAME.test(name)) throw new CliError(`--app ${app.label}: ${JSON.stringify(name)} is not a service name (1-100 of A-Z a-z 0-9 . _ -)`);
    const published = publishedRoutes(collectRegistrations(shared, calls, service.app), service.app, (handler) => handlers.nameOf(handler), (handler) => handlers.identityOf(handler));
    const routes: RouteModel[] = published.map(({ route, handlers: list }) => {
      const answer = combine(list.map((handler) => answers.answerOf(handler === undefined ? undefined : handlers.functionOf(handler))));
      return { ...route, answer: answer.type, note: answer.note };
    });
    const events = collectSubscriptions(shared, calls, service.call, handlers, jsonTypePrinter(ts, program));
    services.push({ name, routes, events });
    warnings.push(...shared.warnings);
  }
  return { services, warnings };
}
