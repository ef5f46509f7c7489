/**
 * Typed errors of the exporter: writing and unpacking layer tars, assembling images and
 * writing the outputs. Each names the path or thing at fault and says how to fix it.
 */
import { TbuildError, type TbuildErrorOptions } from '../shared/errors.ts';

/** A tar entry would land outside the directory it is unpacked into. */
export class PathEscapeError extends TbuildError {
  readonly entry: string;
  constructor(entry: string, reason: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_LAYER_PATH_ESCAPE', `layer entry "${entry}" ${reason}`, {
      hint: 'The layer is malformed or hostile: rebuild or re-pull it from a trusted source.',
      ...options,
    });
    this.entry = entry;
  }
}

/** A tar stream that is not a valid (or supported) tar archive. */
export class TarFormatError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_LAYER_TAR_INVALID', message, {
      hint: 'The layer blob is corrupt or not a tar archive: delete it from the store and pull or build it again.',
      ...options,
    });
  }
}

/** A device node or FIFO in a layer could not be created. */
export class DeviceNodeError extends TbuildError {
  readonly entry: string;
  constructor(entry: string, detail: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_LAYER_DEVICE_NODE', `cannot create device node "${entry}": ${detail}`, {
      hint: 'Creating device nodes needs root (CAP_MKNOD); run tbuild as root or remove the device from the image.',
      ...options,
    });
    this.entry = entry;
  }
}

/** A layer file's owner is not mapped in a rootless build's user namespace (ADR 17). */
export class UnmappedOwnerError extends TbuildError {
  constructor(entry: string, uid: number, gid: number, options: TbuildErrorOptions = {}) {
    super(
      'TBUILD_LAYER_UNMAPPED_OWNER',
      `layer entry "${entry}" is owned by ${uid}:${gid}, which this rootless build's user namespace does not map`,
      {
        hint: 'Give your user 65536 subordinate ids (sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "$USER"), or build as root.',
        ...options,
      },
    );
  }
}

/** A system tool the exporter relies on (mknod, getfattr, setfattr) failed or is missing. */
export class ToolError extends TbuildError {
  readonly tool: string;
  constructor(tool: string, detail: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_EXPORTER_TOOL', `${tool} failed: ${detail}`, {
      hint:
        tool === 'getfattr' || tool === 'setfattr'
          ? 'Install the Debian package "attr" (apt-get install attr).'
          : `Check that ${tool} is installed and that tbuild runs as root.`,
      ...options,
    });
    this.tool = tool;
  }
}

/** A layer directory changed or holds something a tar cannot carry. */
export class LayerWriteError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_LAYER_WRITE', message, {
      hint: 'Layers must not change while they are exported; retry the export.',
      ...options,
    });
  }
}

/** An image cannot be assembled or exported as asked. */
export class ImageExportError extends TbuildError {
  constructor(message: string, options: TbuildErrorOptions = {}) {
    super('TBUILD_IMAGE_EXPORT', message, options);
  }
}
