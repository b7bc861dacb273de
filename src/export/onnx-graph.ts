/**
 * A small builder of ONNX graphs (default domain, one opset), serialised with the ONNX protobuf
 * schema of `onnx-proto`. Only what the U-Net export needs: float32 and int64 initializers, nodes
 * with int, ints and float attributes, float32 graph inputs and outputs, and metadata.
 *
 * Operator semantics are those of the ONNX operator documentation at {@link ONNX_OPSET}.
 */
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The opset of every exported graph (BatchNormalization 15, ReduceSum 13 with `axes` as input, Softmax 13). */
export const ONNX_OPSET = 17;
/** IR version 8 is the one that opset 17 requires (ONNX 1.12). */
const IR_VERSION = 8;

/** A dimension: a fixed size or a symbolic name (e.g. the batch `N`). */
export type Dim = number | string;

export type Attribute = number | readonly number[] | { readonly float: number };

function attribute(name: string, v: Attribute): InstanceType<typeof onnx.AttributeProto> {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new TypeError(`ONNX attribute ${name}: ${v} is not an integer (use { float } for floats)`);
    return onnx.AttributeProto.create({ name, type: T.INT, i: v });
  }
  if ('float' in v) return onnx.AttributeProto.create({ name, type: T.FLOAT, f: v.float });
  if (!v.every(Number.isInteger)) throw new TypeError(`ONNX attribute ${name}: [${v.join(', ')}] are not all integers`);
  return onnx.AttributeProto.create({ name, type: T.INTS, ints: [...v] });
}

function valueInfo(name: string, dims: readonly Dim[]): InstanceType<typeof onnx.ValueInfoProto> {
  return onnx.ValueInfoProto.create({
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  });
}

function bytesOf(a: Float32Array | BigInt64Array): Uint8Array {
  // ONNX raw_data is little-endian, as are the platforms Node runs on here.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();
}

/** Collects the nodes, initializers, inputs and outputs of one graph; names are unique. */
export class GraphBuilder {
  readonly #nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  readonly #initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  readonly #inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  readonly #outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  readonly #names = new Set<string>();
  #counter = 0;

  #claim(name: string): string {
    if (this.#names.has(name)) throw new Error(`ONNX graph: the name '${name}' is used twice`);
    this.#names.add(name);
    return name;
  }

  /** A float32 graph input. */
  input(name: string, dims: readonly Dim[]): string {
    this.#inputs.push(valueInfo(this.#claim(name), dims));
    return name;
  }

  /** Declares `value` (a node's output) a graph output of shape `dims`. */
  output(value: string, dims: readonly Dim[]): void {
    if (!this.#names.has(value)) throw new Error(`ONNX graph: output '${value}' is not a value of the graph`);
    this.#outputs.push(valueInfo(value, dims));
  }

  /** A float32 initializer (a weight, a mask, a scalar when `dims` is []). */
  float(name: string, data: Float32Array | readonly number[], dims: readonly number[]): string {
    const values = data instanceof Float32Array ? data : Float32Array.from(data);
    const n = dims.reduce((a, b) => a * b, 1);
    if (values.length !== n) throw new RangeError(`ONNX initializer ${name}: ${values.length} values for shape [${dims.join(', ')}]`);
    this.#initializers.push(
      onnx.TensorProto.create({ name: this.#claim(name), dims: [...dims], dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(values) }),
    );
    return name;
  }

  /** An int64 initializer (e.g. the `axes` input of ReduceSum). */
  int64(name: string, data: readonly number[], dims: readonly number[]): string {
    this.#initializers.push(
      onnx.TensorProto.create({
        name: this.#claim(name),
        dims: [...dims],
        dataType: onnx.TensorProto.DataType.INT64,
        rawData: bytesOf(BigInt64Array.from(data, (v) => BigInt(v))),
      }),
    );
    return name;
  }

  /**
   * One node with one output; returns the output's name (`name`, or a fresh one from the op type).
   * An empty input name is an omitted optional input.
   */
  op(type: string, inputs: readonly string[], attrs: Readonly<Record<string, Attribute>> = {}, name?: string): string {
    for (const i of inputs) {
      if (i !== '' && !this.#names.has(i)) throw new Error(`ONNX graph: ${type} reads '${i}', which nothing defines`);
    }
    const out = this.#claim(name ?? `${type.toLowerCase()}_${this.#counter++}`);
    this.#nodes.push(
      onnx.NodeProto.create({
        opType: type,
        name: `${out}/${type}`,
        input: [...inputs],
        output: [out],
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return out;
  }

  /** The serialised model: this graph, opset {@link ONNX_OPSET}, and `metadata` as metadata_props. */
  encode(opts: { graphName: string; producerVersion: string; docString?: string; metadata: Readonly<Record<string, string>> }): Uint8Array {
    if (this.#outputs.length === 0) throw new Error('ONNX graph: no outputs');
    const model = onnx.ModelProto.create({
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: ONNX_OPSET }],
      producerName: 'hmcseg',
      producerVersion: opts.producerVersion,
      docString: opts.docString ?? '',
      graph: {
        name: opts.graphName,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

/** The metadata_props of a serialised model (for reading an export back). */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  return Object.fromEntries(model.metadataProps.map((p) => [p.key, p.value]));
}
