/**
 * Warnings BuildKit's linter raises from syntax alone. The parser reports them as data;
 * whoever renders the build decides how to show them.
 */
import { splitCommand } from './split-command.ts';
import type { Instruction, ParseWarning } from './types.ts';

/** `MaintainerDeprecated` and `ConsistentInstructionCasing` for the parsed instructions. */
export function checkInstructions(instructions: readonly Instruction[]): ParseWarning[] {
  const warnings: ParseWarning[] = [];
  for (const instruction of instructions) {
    if (instruction.name === 'MAINTAINER') {
      warnings.push({
        rule: 'MaintainerDeprecated',
        message: 'Maintainer instruction is deprecated in favor of using label',
        range: { ...instruction.range },
      });
    }
  }
  warnings.push(...checkCasing(instructions));
  return warnings;
}

/** Instruction names should all be upper case or all lower case, like the majority. */
function checkCasing(instructions: readonly Instruction[]): ParseWarning[] {
  const written = instructions.map((instruction) => splitCommand(instruction.original).name);
  const lower = written.filter((name) => name === name.toLowerCase()).length;
  const upper = written.filter((name) => name === name.toUpperCase()).length;
  const majority = lower > upper ? 'lowercase' : 'uppercase';
  const warnings: ParseWarning[] = [];
  written.forEach((name, index) => {
    const lowerOnly = name === name.toLowerCase();
    const upperOnly = name === name.toUpperCase();
    if (majority === 'lowercase' ? lowerOnly : upperOnly) return;
    const message =
      lowerOnly || upperOnly
        ? `Command '${name}' should match the case of the command majority (${majority})`
        : `Command '${name}' should be consistently cased`;
    warnings.push({
      rule: 'ConsistentInstructionCasing',
      message,
      range: { ...instructions[index]!.range },
    });
  });
  return warnings;
}
