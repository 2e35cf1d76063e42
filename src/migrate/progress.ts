// Import progress for people and for machines: a redrawn one-line bar on a terminal (repositories,
// manifests, bytes, rate, ETA), JSON lines otherwise (one object per repository finished, at most
// one per second while long repositories run).
import type { ImportProgress } from './importer.js';

export function progressPrinter(stream: NodeJS.WriteStream): (progress: ImportProgress) => void {
  let lastAt = 0;
  if (stream.isTTY !== true) {
    return (progress) => {
      const now = Date.now();
      if (now - lastAt < 1000 && progress.repositoriesDone !== progress.repositoriesTotal) return;
      lastAt = now;
      stream.write(`${JSON.stringify({ event: 'progress', ...progress })}\n`);
    };
  }
  return (progress) => {
    const now = Date.now();
    const finished = progress.repositoriesDone === progress.repositoriesTotal;
    if (now - lastAt < 100 && !finished) return;
    lastAt = now;
    const fraction = progress.repositoriesTotal === 0 ? 1 : progress.repositoriesDone / progress.repositoriesTotal;
    const width = 24;
    const filled = Math.round(fraction * width);
    const seconds = progress.elapsedMs / 1000;
    const rate = seconds > 0 ? progress.manifests / seconds : 0;
    const eta = fraction > 0 && !finished ? (seconds / fraction) * (1 - fraction) : 0;
    stream.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progress.repositoriesDone}/${progress.repositoriesTotal} repositories, ` +
        `${progress.manifests} manifests, ${progress.tags} tags, ${formatBytes(progress.blobBytes)}, ${rate.toFixed(0)} manifests/s, ETA ${formatSeconds(eta)}\x1b[K${finished ? '\n' : ''}`,
    );
  };
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit] ?? 'B'}`;
}

function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
