// Each of Dify's message types once, in a fixed order, made with the SDK's constructors.
import { Tool } from 'dify-plugin-wasm';

const CHUNKED_BLOB_LEN = 20000;

export class AllMessagesTool extends Tool {
  *invoke() {
    yield this.createTextMessage('hello from showcase');
    yield this.createJsonMessage({ number: 42, list: [1, 'two', null], nested: { ok: true } }, undefined, { source: 'showcase' });
    yield this.createLinkMessage('https://dify.ai');
    yield this.createImageMessage('https://dify.ai/logo.png');
    yield this.createImageLinkMessage('/files/tools/image.png', { tool_file_id: 'image', mime_type: 'image/png' });
    yield this.createBinaryLinkMessage('/files/tools/data.bin');
    yield this.createBlobMessage('small whole blob', { mime_type: 'text/plain', filename: 'small.txt' });
    const payload = new Uint8Array(CHUNKED_BLOB_LEN).map((_, i) => i % 251);
    yield this.createBlobMessage(payload, { mime_type: 'application/octet-stream', filename: 'payload.bin' });
    yield this.createFileMessage(JSON.stringify({ filename: 'report.txt', mime_type: 'text/plain', url: '/files/tools/report.txt', size: 11 }));
    yield this.createVariableMessage('answer', { value: 42 });
    yield this.createStreamVariableMessage('story', 'Once upon a time');
    yield this.createLogMessage('showcase step', { elapsed_ms: 3 }, 'success', undefined, { provider: 'showcase' });
    yield this.createRetrieverResourceMessage([{
      position: 1, datasetId: 'ds-1', datasetName: 'Docs', documentId: 'doc-1', documentName: 'intro.md',
      score: 0.875, content: 'Dify is an LLM app platform.', docMetadata: { lang: 'en' },
      extra: { summary: 'kept as an unknown key' },
    }], 'Dify is an LLM app platform.');
  }
}
