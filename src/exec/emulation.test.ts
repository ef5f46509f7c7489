import { describe, expect, it } from 'vitest';
import { probeProgram, qemuName } from './binfmt.ts';
import { withEmulation } from './emulation-spec.ts';
import type { OciSpec } from './spec.ts';

describe('probeProgram', () => {
  it.each([
    ['amd64', 2, 62],
    ['arm64', 2, 183],
    ['riscv64', 2, 243],
    ['arm', 1, 40],
    ['386', 1, 3],
  ])('is a static %s ELF executable', (architecture, elfClass, machine) => {
    const elf = probeProgram({ os: 'linux', architecture })!;
    expect(elf.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(elf[4]).toBe(elfClass);
    expect(elf.readUInt16LE(16)).toBe(2); // ET_EXEC
    expect(elf.readUInt16LE(18)).toBe(machine);
  });

  it('is big-endian for s390x, and there is none for an architecture tbuild cannot emulate', () => {
    const elf = probeProgram({ os: 'linux', architecture: 's390x' })!;
    expect(elf[5]).toBe(2);
    expect(elf.readUInt16BE(18)).toBe(22);
    expect(probeProgram({ os: 'linux', architecture: 'mips64le' })).toBeUndefined();
    expect(qemuName({ os: 'linux', architecture: 'arm64' })).toBe('aarch64');
  });
});

describe('withEmulation', () => {
  const spec: OciSpec = {
    ociVersion: '1.0.2',
    process: {},
    root: { path: '/store/mnt/1', readonly: false },
    hostname: 'x',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['ro'] },
    ],
    linux: { namespaces: [{ type: 'pid' }, { type: 'mount' }] },
  };

  it('leaves a native step alone', () => {
    expect(withEmulation(spec, undefined)).toBe(spec);
  });

  it('gives an emulated step an identity-mapped user namespace, /sys bound, and the register hook', () => {
    const out = withEmulation(spec, { registration: ':tbuild-qemu-aarch64:M::x:y:/q:CF' });
    expect(out.linux['namespaces']).toEqual([{ type: 'pid' }, { type: 'mount' }, { type: 'user' }]);
    expect(out.linux['uidMappings']).toEqual([{ containerID: 0, hostID: 0, size: 4294967295 }]);
    expect(out.mounts[1]).toMatchObject({ type: 'bind', source: '/sys' });
    const hook = out.hooks!['createContainer']![0]!;
    expect(hook.path).toBe('/bin/sh');
    expect(hook.args!.slice(-2)).toEqual(['/store/mnt/1', ':tbuild-qemu-aarch64:M::x:y:/q:CF']);
    expect(spec.linux['namespaces']).toHaveLength(2);
  });
});
