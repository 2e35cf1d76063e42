// The final report of `berth import`, for a person (the --json form is the ImportReport itself).
import type { ImportReport } from './importer.js';

export function formatImportReport(report: ImportReport): string {
  const lines: string[] = [];
  const verb = report.dryRun ? 'would import' : 'imported';
  lines.push(`${report.source}: ${verb} ${report.repositories.imported} repositories (${report.repositories.unchanged} unchanged since the last pass, ${report.repositories.unchangedUnread} of them without reading their links, ${report.repositories.withRefusals} with refusals, ${report.repositories.total} in all)`);
  lines.push(`manifests: ${report.manifests} new, ${report.manifestsPresent} already there; tags: ${report.tags} set, ${report.tagsRemoved} removed (gone from the source); manifests removed (deleted at the source since the last pass): ${report.manifestsRemoved}; blob links: ${report.layerLinks}`);
  lines.push(
    `blobs: ${report.blobs.hardLinked} hard-linked, ${report.blobs.serverSideCopied} copied server-side, ${report.blobs.copied} copied (${report.blobs.bytesCopied} bytes), ${report.blobs.present} already there; ${report.blobs.bytes} bytes brought, ${report.blobs.bytesVerified} bytes hashed`,
  );
  lines.push(report.verified ? 'verification: every blob brought was hashed against its digest' : `verification: OFF (--no-verify: ${report.noVerifyReason ?? ''})`);
  if (report.unfinishedUploadsSkipped > 0) lines.push(`unfinished uploads not imported: ${report.unfinishedUploadsSkipped}`);
  for (const refusal of report.refusals) {
    lines.push(`refused ${refusal.kind} ${refusal.repository}${refusal.tag === undefined ? '' : `:${refusal.tag}`}${refusal.digest === undefined ? '' : `@${refusal.digest}`}: ${refusal.reason}`);
  }
  lines.push(`${report.refusals.length} refusals; ${report.durationMs} ms`);
  return `${lines.join('\n')}\n`;
}
