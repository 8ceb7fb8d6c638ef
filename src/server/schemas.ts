import { Type } from '@sinclair/typebox';

/** The error body every route answers with (README, Sending events; docs/events.md). */
export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    details: Type.Optional(
      Type.Array(Type.Object({ index: Type.Optional(Type.Integer()), path: Type.String(), message: Type.String() })),
    ),
  }),
});
