import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { api } from './api.js';
import { ApiReference } from './components/ApiReference.js';
import { Detail } from './components/Detail.js';
import { Login } from './components/Login.js';
import { SessionView } from './components/SessionView.js';
import { TorrentList } from './components/TorrentList.js';
import { useHashRoute, useLive } from './hooks.js';
import { live } from './live.js';
import './style.css';

function App() {
  useLive();
  const route = useHashRoute();
  const [dropped, setDropped] = useState<File[]>([]);
  const [savePath, setSavePath] = useState('');

  useEffect(() => {
    void live.start();
    // Files dropped anywhere open the add dialog with them.
    const over = (e: DragEvent): void => e.preventDefault();
    const drop = (e: DragEvent): void => {
      e.preventDefault();
      const files = [...(e.dataTransfer?.files ?? [])].filter((f) => f.name.endsWith('.torrent'));
      if (files.length) {
        location.hash = '#/';
        setDropped(files);
      }
    };
    addEventListener('dragover', over);
    addEventListener('drop', drop);
    return () => {
      removeEventListener('dragover', over);
      removeEventListener('drop', drop);
    };
  }, []);

  useEffect(() => {
    if (live.connection === 'open' && savePath === '') api.settings().then((s) => setSavePath(String(s.save_path ?? '')), () => undefined);
  }, [live.connection]);

  if (live.connection === 'login') {
    return <Login onDone={() => void live.start()} />;
  }
  const page = route[0] ?? '';
  const signOut = async (): Promise<void> => {
    await api.logout();
    live.stop();
    location.reload();
  };
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">spritzle</a>
        <nav aria-label="Main">
          <a href="#/" aria-current={page === '' || page === 't' ? 'page' : undefined}>Torrents</a>
          <a href="#/session" aria-current={page === 'session' ? 'page' : undefined}>Session</a>
          <a href="#/api" aria-current={page === 'api' ? 'page' : undefined}>API</a>
          {live.signedIn && <button class="link" onClick={() => void signOut()}>Sign out</button>}
        </nav>
      </header>
      {live.connection !== 'open' && (
        <p class={`banner ${live.connection}`} role="alert">
          {live.connection === 'lost' ? 'Connection to the daemon lost; reconnecting…' : 'Connecting to the daemon…'}
        </p>
      )}
      <main>
        {!live.authorized ? null
          : page === 't' && route[1] ? <Detail hash={route[1]} tab={route[2] ?? 'general'} />
          : page === 'session' ? <SessionView />
          : page === 'api' ? <ApiReference />
          : <TorrentList droppedFiles={dropped} clearDropped={() => setDropped([])} defaultSavePath={savePath} />}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
