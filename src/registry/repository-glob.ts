// Repository globs, as auth.policies and the lifecycle rules write them: `*` matches within one path
// component, `**` across components (`team/**` matches team/a and team/a/b, never team-x/a).
// Everything else matches literally.

export function compileRepositoryGlob(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string;
    if (char === '*') {
      if (glob[i + 1] === '*') {
        i++;
        // `a/**` also matches `a` itself; `**/b` matches `b` at any depth.
        if (glob[i + 1] === '/') {
          i++;
          source += '(?:.*/)?';
        } else {
          source += '.*';
        }
      } else {
        source += '[^/]*';
      }
    } else {
      source += char.replace(/[.\\^$+?()[\]{}|-]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}
