// Compiles the operator's JSON Schema with ajv, picking the draft the schema
// declares, and turns validation errors into sentences for people.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** At most this many problems are reported for one record. */
const MAX_PROBLEMS = 20;

export function compileSchema(schema: unknown): ValidateFunction {
  if (!schema || typeof schema !== 'object') throw new Error('a JSON Schema must be an object');
  const declared = String((schema as { $schema?: unknown }).$schema ?? '');
  const options = { allErrors: true, strict: false };
  const ajv = declared.includes('2020-12')
    ? new Ajv2020(options)
    : declared.includes('2019-09')
      ? new Ajv2019(options)
      : new Ajv(options);
  addFormats(ajv);
  return ajv.compile(schema);
}

/** "/title must NOT have more than 200 characters", one per problem. */
export function describeProblems(errors: ErrorObject[] | null | undefined): string[] {
  const problems = (errors ?? []).slice(0, MAX_PROBLEMS).map((e) => {
    const where = e.instancePath === '' ? 'the record' : e.instancePath;
    const extra =
      e.keyword === 'additionalProperties'
        ? ` (${String(e.params.additionalProperty)})`
        : e.keyword === 'enum'
          ? ` (${(e.params.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')})`
          : '';
    return `${where} ${e.message ?? 'is invalid'}${extra}`;
  });
  const more = (errors?.length ?? 0) - problems.length;
  if (more > 0) problems.push(`… and ${more} more problems`);
  return problems;
}
