// Lua scripts are loaded from disk at run time, so the build copies them beside the compiled code.
import { cpSync } from 'node:fs';

cpSync('src/redis/lua', 'dist/redis/lua', { recursive: true });
