// Lua scripts are loaded from disk at run time, so the build copies them beside the compiled code.
import { chmodSync, cpSync } from 'node:fs';

cpSync('src/redis/lua', 'dist/redis/lua', { recursive: true });
// The CLI runs through its shebang (which sets Node's flags), also via `npm start`.
chmodSync('dist/cli/main.js', 0o755);
