/** `switchboard/client` is the @switchboard/client package (packages/client), for code that imports it from the server package. */
export * from '@switchboard/client';
