import { useEffect, useState } from 'preact/hooks';
import { api, type OpenApi } from '../api.js';

/** The REST API as /openapi.json describes it: every path and method with its summary. */
export function ApiReference() {
  const [doc, setDoc] = useState<OpenApi | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    api.openapi().then(setDoc, (e: Error) => setError(e.message));
  }, []);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!doc) return <p class="muted">Loading the API reference…</p>;
  return (
    <section class="apiref" aria-label="API reference">
      <h2>{doc.info.title} {doc.info.version}</h2>
      {doc.info.description && <p>{doc.info.description}</p>}
      <p>The machine-readable document: <a href="openapi.json">openapi.json</a>.</p>
      {Object.entries(doc.paths).map(([path, methods]) => (
        <article key={path} class="endpoint">
          <h3><code>{path}</code></h3>
          {Object.entries(methods).filter(([m]) => ['get', 'post', 'put', 'patch', 'delete'].includes(m)).map(([m, op]) => (
            <details key={m}>
              <summary><span class={`method m-${m}`}>{m.toUpperCase()}</span> {op.summary ?? ''}</summary>
              {op.description && <p>{op.description}</p>}
              {op.parameters && op.parameters.length > 0 && (
                <ul>{op.parameters.map((p) => <li key={p.name}><code>{p.name}</code> ({p.in}){p.description ? `: ${p.description}` : ''}</li>)}</ul>
              )}
            </details>
          ))}
        </article>
      ))}
    </section>
  );
}
