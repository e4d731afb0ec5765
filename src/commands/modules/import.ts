import { readFile } from 'node:fs/promises';

import { Args, Flags } from '@oclif/core';

import { OprocCommand } from '../../base-command.js';
import { usageError } from '../../errors.js';
import {
  readPythonInformation,
  ratvFromFileName,
  type ImportedInformation,
} from '../../modules/python-info.js';

export default class ModulesImport extends OprocCommand {
  static override summary = 'Print the JSON form of a processing_information_X_Y_Z.py file.';
  static override description = `Reads the file's two top-level assignments, processing_modules = {...} and modules_for_run_type = {...}, as Python literals: dicts, lists, tuples, sets (set([...]), set(), {a, b}), strings in every quote style with adjacent strings joined, numbers, True, False and None. A call, such as the Ganga output objects in ganga_outputs (PGSQLFile(namePattern = "CSS_RESULT_*.ratdb", version = 1)), is read as data: {"call": "PGSQLFile", "args": [...], "kwargs": {...}}, with positional and keyword arguments, nested calls and dotted names (Lib.PGSQLFile). Nothing in the file is executed. Sets become sorted arrays.

Other top-level statements: imports (import X, import X as Y, from A.B import C, ...) and docstrings are ignored; other NAME = <literal> assignments are remembered, so the two assignments may use those names (a shared list of outputs, say), and other assignments are ignored; anything else (print calls, if blocks, ...) is skipped with a warning on stderr naming its line. A statement other than the two assignments that mentions processing_modules or modules_for_run_type (processing_modules["X"] = ..., .update(...), an assignment inside an if block) is an error, since it could change them unseen. Anything unreadable inside the two assignments (a bare name, an expression such as 1 + 1) is an error at FILE:LINE:COLUMN.

The RAT version comes from --ratv, else from the file name (processing_information_7_0_8.py is 7.0.8). The result is checked as oproc checks processing information (levels, paths, RATDB table names, run type names, prerequisites) before it is printed. Redirect stdout to a file and name it in the config's "processing_information".

Exit codes: 0 printed; 2 unreadable file, syntax error (FILE:LINE:COLUMN) or invalid content.`;

  static override examples = [
    '<%= config.bin %> <%= command.id %> processing_information_7_0_8.py > processing_information_7_0_8.json',
    '<%= config.bin %> <%= command.id %> info.py --ratv 7.0.8',
  ];

  static override args = {
    file: Args.string({ description: 'A processing_information_X_Y_Z.py file', required: true }),
  };

  static override flags = {
    ratv: Flags.string({ description: 'RAT version (default: from the file name)' }),
  };

  async run(): Promise<ImportedInformation> {
    const { args, flags } = await this.parse(ModulesImport);
    const ratv = flags.ratv ?? ratvFromFileName(args.file);
    if (ratv === undefined) {
      throw usageError(
        `cannot tell the RAT version of ${args.file}: its name is not processing_information_X_Y_Z.py`,
        'Give it with --ratv, e.g. --ratv 7.0.8.',
      );
    }
    const text = await readSource(args.file);
    const { info, skipped } = readPythonInformation(text, args.file, ratv);
    for (const statement of skipped) {
      this.warn(
        `${args.file}:${statement.line}:${statement.column}: skipped a "${statement.start}" statement`,
      );
    }
    if (!this.jsonEnabled()) this.log(JSON.stringify(info, null, 2));
    return info;
  }
}

async function readSource(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(error);
    throw usageError(`cannot read ${file}: ${why}`);
  }
}
