import { Tool } from 'dify-plugin-wasm';

export class CountTool extends Tool {
  *invoke({ n }) {
    for (let i = 0; i < Number(n); i += 1) yield this.createTextMessage(String(i));
  }
}
