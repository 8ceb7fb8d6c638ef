// Lua scripts are loaded from disk at run time, so the build copies them beside the compiled code.
import { chmodSync, cpSync } from 'node:fs';

cpSync('src/redis/lua', 'dist/redis/lua', { recursive: true });
// The wallboard's static files ship in the package; `npm start` serves them from here.
cpSync('src/board/assets', 'dist/board/assets', { recursive: true });
// The CLI runs through its shebang (which sets Node's flags), also via `npm start`.
chmodSync('dist/cli/main.js', 0o755);
