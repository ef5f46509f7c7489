/**
 * The "small app" of issue 12: a Debian base, WORKDIR, a dependency file, a RUN that writes
 * 3,000 4 KiB files, then the sources and a RUN over them. Its "source changed" case
 * appends a line to one file in src/.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const DEBIAN = 'localhost:5000/debian:bookworm';

export const SMALL_APP_DOCKERFILE = `FROM ${DEBIAN}
WORKDIR /app
COPY deps.txt .
RUN for i in $(seq 1 3000); do head -c 4096 /dev/urandom > dep-$i.bin; done
COPY src ./src
RUN cat src/*.txt | wc -c > build.out
CMD ["cat", "/app/build.out"]
`;

export interface SmallApp {
  dir: string;
  /** Append a line to one source file (a developer's edit). */
  changeSource(note: string): void;
}

export function writeSmallApp(dir: string): SmallApp {
  mkdirSync(path.join(dir, 'src'), { recursive: true });
  writeFileSync(path.join(dir, 'Dockerfile'), SMALL_APP_DOCKERFILE);
  writeFileSync(path.join(dir, 'deps.txt'), 'left-pad 1.3.0\nleft-pad-types 1.0.0\n');
  for (const name of ['main', 'util', 'routes', 'views', 'config'])
    writeFileSync(path.join(dir, 'src', `${name}.txt`), `${name}\n`.repeat(40));
  const main = path.join(dir, 'src', 'main.txt');
  return { dir, changeSource: (note) => appendFileSync(main, `${note}\n`) };
}
