/**
 * The validator compiler of the `/api/v1` scope: TypeBox's compiled checks, as
 * @fastify/type-provider-typebox's `TypeBoxValidatorCompiler`, with the same results
 * and the same errors, but without `Value.Convert` on a value that is already valid.
 *
 * The type provider converts the path parameters, query and headers (strings on the
 * wire) before every check; Convert walks the schema and builds a regular expression
 * per property on each call (~3 % of an HTTP task update, for one `id`). Converting a
 * value that already passes the check changes nothing (strings stay strings, a union
 * that matches is left alone), so a valid value is answered at once, and only one
 * that fails is converted and checked again, exactly as before. Bodies are checked as
 * they are, never converted (as the type provider does).
 */
import type { FastifySchemaCompiler, FastifySchemaValidationError } from 'fastify';
import type { TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Value } from 'typebox/value';

export const validatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = Compile(schema);
  const fail = (value: unknown): { error: FastifySchemaValidationError[] } => ({ error: check.Errors(value) });
  if (httpPart === 'body') return (value: unknown) => (check.Check(value) ? { value } : fail(value));
  return (value: unknown) => {
    if (check.Check(value)) return { value };
    const converted = Value.Convert(schema, value);
    return check.Check(converted) ? { value: converted } : fail(converted);
  };
};
