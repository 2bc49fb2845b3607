/**
 * Writes a type as the JSON a client receives when an Express handler sends a value of it, as a
 * standalone TypeScript type: inline and structural, naming none of the user's types, so the
 * generated file needs no imports from the service's source.
 *
 * JSON.stringify's rules, as far as types can follow them: `toJSON()` decides for the values that
 * have it (Date → string, Buffer → `{ type, data }`); functions and methods drop out; a property
 * that may be undefined may be missing; `undefined` in an array becomes `null`. What has no JSON
 * form (bigint, Map, Set, Promise, recursive types) becomes `unknown`, with a note saying why.
 * Primitives and literals are printed with the checker's own `typeToString` (NoTruncation).
 */
import type * as TS from 'typescript';
import type { TypeScript } from './typescript.ts';

/** A type as text, and why parts of it became `unknown` (empty when none did). */
export interface PrintedType {
  readonly text: string;
  readonly notes: readonly string[];
}

/** Deeper than this, a type is printed as `unknown`: a generated file is not a dump of a model. */
const MAX_DEPTH = 12;
/** Longer than this, the whole answer is `unknown`: a generated line should stay readable. */
const MAX_LENGTH = 4000;
const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Prints types as JSON answers for one program. */
export interface JsonTypePrinter {
  /** `type` as the JSON it becomes; `where` is any node of the program, for property types. */
  print(type: TS.Type, where: TS.Node): PrintedType;
}

/** A printer bound to one program's checker. */
export function jsonTypePrinter(ts: TypeScript, program: TS.Program): JsonTypePrinter {
  const checker = program.getTypeChecker();
  const F = ts.TypeFlags;

  function isLibraryOnly(symbol: TS.Symbol | undefined): boolean {
    const declarations = symbol?.declarations ?? [];
    return declarations.length > 0 && declarations.every((declaration) => program.isSourceFileDefaultLibrary(declaration.getSourceFile()));
  }

  function callable(type: TS.Type): boolean {
    return checker.getSignaturesOfType(type, ts.SignatureKind.Call).length > 0 || checker.getSignaturesOfType(type, ts.SignatureKind.Construct).length > 0;
  }

  function print(root: TS.Type, where: TS.Node): PrintedType {
    const notes = new Set<string>();
    const open = new Set<TS.Type>();
    const unknown = (note?: string): string => {
      if (note !== undefined) notes.add(note);
      return 'unknown';
    };

    /** `inArray`: undefined becomes null there, as JSON.stringify writes it. */
    function visit(type: TS.Type, depth: number, inArray: boolean): string {
      const flags = type.flags;
      if (flags & (F.Any | F.Unknown)) return 'unknown';
      if (flags & F.Never) return 'never';
      if (flags & (F.Undefined | F.Void)) return inArray ? 'null' : 'undefined';
      if (flags & F.Null) return 'null';
      if (flags & (F.BigInt | F.BigIntLiteral)) return unknown('bigint has no JSON form (JSON.stringify throws)');
      if (flags & (F.ESSymbol | F.UniqueESSymbol)) return inArray ? 'null' : 'undefined';
      if (flags & F.StringLiteral) return JSON.stringify((type as TS.StringLiteralType).value);
      if (flags & F.NumberLiteral) return String((type as TS.NumberLiteralType).value);
      if (flags & (F.Boolean | F.BooleanLiteral)) return checker.typeToString(type, undefined, ts.TypeFormatFlags.NoTruncation);
      // Enums are unions of their members' literals: each prints as its value.
      if (type.isUnion()) return union(type.types.map((member) => visit(member, depth, inArray)));
      if (flags & (F.String | F.TemplateLiteral | F.StringMapping)) return 'string';
      if (flags & (F.Number | F.Enum)) return 'number';
      if (flags & F.TypeParameter) {
        const constraint = checker.getBaseConstraintOfType(type);
        return constraint === undefined || constraint === type ? unknown() : visit(constraint, depth, inArray);
      }
      if (depth > MAX_DEPTH) return unknown('nested too deeply to inline');
      if (open.has(type)) return unknown('a recursive type cannot be written inline');
      open.add(type);
      try {
        return structured(type, depth);
      } finally {
        open.delete(type);
      }
    }

    function structured(type: TS.Type, depth: number): string {
      if (type.isIntersection()) {
        // A branded primitive (`string & { __brand: 'Id' }`) is sent as the primitive.
        const primitive = type.types.find((member) => member.flags & (F.StringLike | F.NumberLike | F.BooleanLike));
        if (primitive !== undefined) return visit(primitive, depth, false);
      }
      const toJSON = checker.getPropertyOfType(type, 'toJSON');
      if (toJSON !== undefined) {
        const signature = checker.getSignaturesOfType(checker.getTypeOfSymbolAtLocation(toJSON, where), ts.SignatureKind.Call)[0];
        return signature === undefined ? unknown() : visit(checker.getReturnTypeOfSignature(signature), depth + 1, false);
      }
      if (checker.isArrayType(type)) {
        const element = checker.getTypeArguments(type as TS.TypeReference)[0];
        const text = element === undefined ? 'unknown' : visit(element, depth + 1, true);
        return text.includes(' | ') ? `(${text})[]` : `${text}[]`;
      }
      if (checker.isTupleType(type)) {
        const target = (type as TS.TypeReference).target as TS.TupleType;
        const elements = checker.getTypeArguments(type as TS.TypeReference).map((element, index) => {
          const text = visit(element, depth + 1, true);
          const flag = target.elementFlags[index] ?? ts.ElementFlags.Required;
          if (flag & ts.ElementFlags.Variable) return `...(${text})[]`;
          return flag & ts.ElementFlags.Optional ? `(${text})?` : text;
        });
        return `[${elements.join(', ')}]`;
      }
      if (callable(type) && checker.getPropertiesOfType(type).length === 0) return 'undefined';
      const symbol = type.getSymbol();
      if (symbol !== undefined && symbol.flags & (ts.SymbolFlags.Class | ts.SymbolFlags.Interface) && isLibraryOnly(symbol)) {
        return unknown(`${symbol.getName()} has no JSON form of its own`);
      }
      if (type.flags & F.NonPrimitive) return unknown('`object` says nothing about its fields');
      return objectType(type, depth);
    }

    function objectType(type: TS.Type, depth: number): string {
      const members: string[] = [];
      for (const info of checker.getIndexInfosOfType(type)) {
        if (!(info.keyType.flags & (F.String | F.Number))) continue;
        members.push(`[key: string]: ${visit(info.type, depth + 1, false)}`);
      }
      for (const property of checker.getPropertiesOfType(type)) {
        const name = property.getName();
        // Symbol keys and #private fields are not serialised.
        if (name.startsWith('__@') || name.startsWith('#')) continue;
        if (property.flags & ts.SymbolFlags.Method) continue;
        // Accessors of a class live on its prototype, which JSON.stringify does not read.
        if (property.flags & ts.SymbolFlags.Accessor && property.declarations?.some((declaration) => ts.isClassLike(declaration.parent))) continue;
        const propertyType = checker.getTypeOfSymbolAtLocation(property, where);
        if (callable(propertyType) && checker.getPropertiesOfType(propertyType).length === 0) continue;
        const members_ = propertyType.isUnion() ? propertyType.types : [propertyType];
        const maybeMissing = (property.flags & ts.SymbolFlags.Optional) !== 0 || members_.some((member) => member.flags & (F.Undefined | F.Void));
        const present = members_.filter((member) => !(member.flags & (F.Undefined | F.Void)));
        const text = present.length === 0 ? 'never' : union(present.map((member) => visit(member, depth + 1, false)));
        if (present.length === 0) continue;
        members.push(`${IDENTIFIER.test(name) ? name : JSON.stringify(name)}${maybeMissing ? '?' : ''}: ${text}`);
      }
      return members.length === 0 ? 'Record<string, never>' : `{ ${members.join('; ')} }`;
    }

    const text = visit(root, 0, false);
    if (text.length > MAX_LENGTH) return { text: 'unknown', notes: [`its type is longer than ${MAX_LENGTH} characters when written out`] };
    return { text, notes: [...notes].sort() };
  }

  return { print };
}

/**
 * Members joined with ` | `, sorted (the checker orders unions by when it met each type, which
 * unrelated edits change), duplicates dropped, `true | false` as `boolean`, `unknown` absorbing
 * the rest.
 */
export function union(members: readonly string[]): string {
  let unique = [...new Set(members)].filter((member) => member !== 'never');
  if (unique.length === 0) return 'never';
  if (unique.includes('unknown')) return 'unknown';
  if (unique.includes('boolean') || (unique.includes('true') && unique.includes('false'))) {
    unique = [...unique.filter((member) => member !== 'true' && member !== 'false' && member !== 'boolean'), 'boolean'];
  }
  return unique.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).join(' | ');
}
