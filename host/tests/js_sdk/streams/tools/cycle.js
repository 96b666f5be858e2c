// Calls showcase's `count` `calls` times each way a plugin ends a stream: reading it to its end,
// leaving the loop after the first message, and never starting it. Every stream must be
// released, so any number of calls fits in the host's 16 stream slots.
import { Tool } from 'dify-plugin-wasm';

const SHOWCASE = 'langgenius/showcase/showcase';

export class CycleTool extends Tool {
  *invoke({ calls }) {
    let received = 0;
    for (let i = 0; i < Number(calls); i += 1) {
      for (const _ of this.session.tool.invokeBuiltinTool(SHOWCASE, 'count', { n: 2 })) received += 1;
      for (const _ of this.session.tool.invoke('builtin', SHOWCASE, 'count', { n: 1000 })) {
        received += 1;
        break;
      }
      this.session.tool.invokeBuiltinTool(SHOWCASE, 'count', { n: 1 }); // never started
    }
    yield this.createTextMessage(`received ${received}`);
  }
}
