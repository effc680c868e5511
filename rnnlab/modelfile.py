"""Read a model someone trained elsewhere: a Keras 3 `.keras` file, a legacy Keras `.h5` file or a PyTorch
state_dict, as the SequenceClassifier it computes.

    load_model(path or bytes or file object) -> SequenceClassifier (float32, eval mode, .origin says what it was)

The stacks read are the lecture's, [Embedding] → one SimpleRNN, LSTM or GRU → [Flatten] [Dropout] → Dense (Keras),
or [nn.Embedding] → one nn.RNN, nn.LSTM or nn.GRU → nn.Linear (PyTorch). Keras' weights map as
SimpleRNN.from_keras says (kernel = A_xᵀ, recurrent_kernel = A_hᵀ), PyTorch's as from_torch does
(weight_ih_l0 = A_x, weight_hh_l0 = A_h). Anything else is refused, naming the first layer or key not read.

The format is read off the content, never the name: a zip holding config.json is Keras 3, the HDF5 signature is
legacy Keras, a zip holding data.pkl is torch.save's. The file may come from anyone: it is read whole into memory
only below MAX_BYTES, every zip member and HDF5 dataset is bounded before it is read, HDF5 links that leave the
file (external links, virtual or external datasets) are refused, torch.load runs with weights_only=True, and every
weight must be a finite float array. TensorFlow is never imported: h5py reads the HDF5.
"""
import io
import json
import os
import re
import stat
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from . import checks
from .checks import short
from .models import HEADS, SequenceClassifier

MAX_BYTES = 64 * 2**20  # the whole file
MAX_ELEMENTS = 2**23  # one array (32 MiB in float32): vocabulary 100,000 × 80, or a flatten head of T·h = 8M
MAX_MEMBERS = 256  # entries of a zip (a state_dict of a few modules has a dozen)
MAX_CONFIG_BYTES = 2**20  # config.json, metadata.json, the legacy model_config attribute
MAX_HIDDEN = 1024  # h: the influence curve costs T·(gates·h)²·input multiply-adds (a minute at h = 1024, T = 500)
MAX_INPUT = 4096  # embedding or input width
MAX_VOCAB = 2**20
MAX_CLASSES = 2**16
MAX_SEQ_LEN = 100_000  # a flatten head's T
MAX_ARRAYS = 8  # weight arrays of one layer (an RNN has 2 or 3, Dense 2, Embedding 1)

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
ZIP_SIGNATURE = b"PK\x03\x04"
KERAS3, LEGACY, TORCH = "Keras 3 .keras", "Keras .h5", "PyTorch state_dict"  # the formats, as origin names them
KERAS_RNNS = {"SimpleRNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}
TORCH_RNNS = {1: ("simple_rnn", nn.RNN), 4: ("lstm", nn.LSTM), 3: ("gru", nn.GRU)}  # gates → cell
SKIPPED = ("InputLayer", "Dropout", "SpatialDropout1D")  # no weights, and identity at inference
MAPPING_KEYS = ("embedding", "rnn", "linear", "nonlinearity", "head")


class ModelFileError(ValueError):
    """A model file that cannot be read as a supported model: one line saying what, the value and what is allowed."""


def load_model(source, mapping=None):
    """The SequenceClassifier a Keras or PyTorch model file computes, float32, in eval mode, with `origin`, a str
    like "Keras 3 .keras: Embedding(10000, 32) → SimpleRNN(32) → Dense(1)".

    source: a path (str or Path), bytes, or a binary file object with .read(). mapping (PyTorch only): where the
    modules are when their keys and shapes do not tell, {"embedding": "emb.weight" or None, "rnn": "encoder.rnn."
    (the prefix of weight_ih_l0…), "linear": "fc.weight", "nonlinearity": "relu" (nn.RNN's, which a state_dict does
    not hold; default "tanh"), "head": "each" (Linear on every state; default "last", or "flatten" when its input
    is T·hidden)}. Raises ModelFileError (a ValueError) for anything it cannot read.
    """
    if mapping is not None:
        _check_mapping(mapping)
    data = _read(source)
    origin, archive = _format(data)
    if mapping and origin != TORCH:
        raise ValueError(f"mapping applies to PyTorch state_dicts only, got it for a {origin} file")
    if origin == KERAS3:
        model, layers = _keras3(archive)
    elif origin == LEGACY:
        model, layers = _legacy_h5(data)
    else:
        model, layers = _torch(data, archive, mapping or {})
    model = model.float().eval()
    model.origin = f"{origin}: {' → '.join(layers)}"
    return model


def _check_mapping(mapping):
    if not isinstance(mapping, dict):
        raise TypeError(f"mapping must be a dict or None, got {type(mapping).__name__}")
    for key, value in mapping.items():
        checks.choice("a mapping key", key, MAPPING_KEYS)
        if key in ("nonlinearity", "head"):
            checks.choice(f"mapping[{key!r}]", value, ("tanh", "relu") if key == "nonlinearity" else HEADS)
        elif not (isinstance(value, str) or key == "embedding" and value is None):
            raise TypeError(f"mapping[{key!r}] must be a state_dict key (a str){' or None' * (key == 'embedding')}, "
                            f"got {short(value)}")


def _format(data):
    """(origin, the zip or None), from the content: a zip holding config.json is Keras 3, one holding data.pkl is
    torch.save's, the HDF5 signature at the start legacy Keras."""
    if data.startswith(HDF5_SIGNATURE):
        return LEGACY, None
    if data.startswith(ZIP_SIGNATURE):
        archive = _zip(data)
        names = archive.namelist()
        if "config.json" in names:
            return KERAS3, archive
        if any(name.endswith("/data.pkl") for name in names):
            return TORCH, archive
        raise ModelFileError(f"the zip holds neither config.json (Keras 3) nor data.pkl (torch.save), got members "
                             f"{', '.join(map(repr, names[:3]))}{' …' if len(names) > 3 else ''}")
    if data[:1] == b"\x80":  # a bare pickle: torch.save's format before PyTorch 1.6, which sizes its own storages
        raise ModelFileError("the file is a bare pickle (torch.save's legacy format): save it again with "
                             "torch.save(model.state_dict(), path) of PyTorch >= 1.6, which writes a zip")
    raise ModelFileError(f"the file is not a model file: it starts with {data[:8]!r}, allowed: a Keras 3 .keras "
                         "(zip), a legacy Keras .h5 (HDF5) or a PyTorch state_dict (torch.save's zip)")


def _read(source):
    """The file's bytes, refused above MAX_BYTES before more than MAX_BYTES + 1 of them are read."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        try:  # O_NONBLOCK: opening a FIFO would wait for a writer; a regular file ignores it
            with os.fdopen(os.open(source, os.O_RDONLY | os.O_NONBLOCK), "rb") as f:
                info = os.fstat(f.fileno())
                if not stat.S_ISREG(info.st_mode):
                    raise ModelFileError(f"source must be a regular file, got {short(str(source))}")
                if info.st_size > MAX_BYTES:
                    raise ModelFileError(f"the file must be at most {MAX_BYTES:,} bytes, got {info.st_size:,}")
                data = f.read(MAX_BYTES + 1)
        except OSError as e:
            raise ModelFileError(f"cannot read {short(str(source))}: {e.strerror or e}") from None
    elif callable(getattr(source, "read", None)):
        data = source.read(MAX_BYTES + 1)
        if not isinstance(data, bytes):
            raise TypeError(f"source.read() must return bytes (open the file in binary mode), got "
                            f"{type(data).__name__}")
    else:
        raise TypeError(f"source must be a path, bytes or a binary file object, got {type(source).__name__}")
    if len(data) > MAX_BYTES:
        raise ModelFileError(f"the file must be at most {MAX_BYTES:,} bytes, got more")
    return data


def _zip(data):
    """The zip, its members checked: at most MAX_MEMBERS, plain relative names, declared sizes within MAX_BYTES."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as e:
        raise ModelFileError(f"the file is not a readable zip: {e}") from None
    if len(infos) > MAX_MEMBERS:
        raise ModelFileError(f"the zip must hold at most {MAX_MEMBERS} members, got {len(infos):,}")
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        raise ModelFileError("the zip holds two members of the same name")
    for info in infos:
        parts = info.filename.split("/")
        if info.filename.startswith("/") or "\\" in info.filename or ".." in parts:
            raise ModelFileError(f"zip member names must be relative paths, got {short(info.filename)}")
    total = sum(info.file_size for info in infos)
    if total > MAX_BYTES:
        raise ModelFileError(f"the zip's members must unpack to at most {MAX_BYTES:,} bytes, got {total:,}")
    return archive


def _member(archive, name, limit=MAX_BYTES):
    """A zip member's bytes, at most `limit` of them whatever its header declares."""
    try:
        with archive.open(name) as f:
            data = f.read(limit + 1)
    except KeyError:
        raise ModelFileError(f"the zip lacks {name}") from None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise ModelFileError(f"cannot unpack {name}: {e}") from None
    if len(data) > limit:
        raise ModelFileError(f"{name} must unpack to at most {limit:,} bytes, got more")
    return data


def _json(text, what):
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ModelFileError(f"{what} is not valid JSON: {str(e)[:80]}") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{what} must be a JSON object, got {short(value)}")
    return value


# ---------------------------------------------------------------------------------------------- HDF5


def _h5(data):
    import h5py  # only for Keras files
    try:
        return h5py.File(io.BytesIO(data), "r")
    except OSError as e:
        raise ModelFileError(f"the HDF5 file cannot be read: {e}") from None


def _h5_get(group, path):
    """The object at `path` under `group`, through hard links only: soft and external links are refused (one
    could point at another file on this machine)."""
    import h5py
    obj, where = group, f"{group.name.rstrip('/')}/{path}"
    for part in path.split("/"):
        if not part:
            continue
        link = obj.get(part, getlink=True) if isinstance(obj, h5py.Group) else None
        if link is None:
            raise ModelFileError(f"the HDF5 file lacks {where!r}")
        if not isinstance(link, h5py.HardLink):
            raise ModelFileError(f"HDF5 {where!r} is a {type(link).__name__}: only plain (hard) links are read")
        obj = obj[part]
    return obj


def _h5_array(group, path):
    """A float dataset read into memory: its declared size bounded first, no virtual or external storage."""
    import h5py
    ds = _h5_get(group, path)
    path = ds.name
    if not isinstance(ds, h5py.Dataset):
        raise ModelFileError(f"HDF5 {path!r} must be a dataset, got a {type(ds).__name__}")
    if ds.is_virtual or ds.external:
        raise ModelFileError(f"HDF5 dataset {path!r} keeps its data outside the file: refused")
    if ds.dtype.kind != "f" or ds.dtype.itemsize not in (2, 4, 8):
        raise ModelFileError(f"HDF5 dataset {path!r} must hold floats, got dtype {ds.dtype}")
    if ds.shape is None:
        raise ModelFileError(f"HDF5 dataset {path!r} must hold an array, got an empty dataspace")
    if np.prod(ds.shape, dtype=np.float64) > MAX_ELEMENTS:
        raise ModelFileError(f"HDF5 dataset {path!r} must hold at most {MAX_ELEMENTS:,} values, got shape "
                             f"{ds.shape}")
    try:
        return ds[()]
    except (OSError, ValueError, TypeError) as e:
        raise ModelFileError(f"HDF5 dataset {path!r} cannot be read: {e}") from None


def _layer_arrays(layer, group, names):
    """The arrays `names` of the HDF5 group of `layer`, in order, at most MAX_ARRAYS of them."""
    if len(names) > MAX_ARRAYS:
        raise ModelFileError(f"layer {layer['name']!r} must have at most {MAX_ARRAYS} weight arrays, got "
                             f"{len(names)}")
    return [_h5_array(group, name) for name in names]


def _keras3(archive):
    """A Keras 3 .keras: config.json (the layers) and model.weights.h5 (layers/<name>/vars/0…, an RNN's under
    layers/<name>/cell/vars/0…)."""
    config = _json(_member(archive, "config.json", MAX_CONFIG_BYTES), "config.json")
    layers = _chain(config)
    stack = _stack(layers)
    with _h5(_member(archive, "model.weights.h5")) as f:
        weights = {}
        for layer, path in zip(layers, _keras3_paths(layers, config["class_name"] == "Sequential")):
            if layer not in stack.values():
                continue
            group = _h5_get(f, f"{path}/cell/vars" if layer["class_name"] in KERAS_RNNS else f"{path}/vars")
            weights[layer["name"]] = _layer_arrays(layer, group, [str(i) for i in range(len(group))])
    return _build(stack, weights)


def _keras3_paths(layers, sequential):
    """Where Keras 3 keeps each layer's weights: layers/<its class in snake_case>, then _1, _2 … for the next of
    the same class (keras.src.saving.saving_lib), counting the InputLayer of a Functional model, which a
    Sequential's `layers` leaves out."""
    used, paths = {}, []
    for layer in layers:
        if sequential and layer["class_name"] == "InputLayer":
            paths.append(None)
            continue
        name = re.sub(r"\W+", "", layer["class_name"])
        name = re.sub("([a-z])([A-Z])", r"\1_\2", re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()
        used[name] = used.get(name, -1) + 1
        paths.append(f"layers/{name}" + (f"_{used[name]}" if used[name] else ""))
    return paths


def _legacy_h5(data):
    """A legacy Keras .h5 (model.save("x.h5")): the model_config attribute, and model_weights/<layer> whose
    weight_names attribute lists its arrays in get_weights() order."""
    with _h5(data) as f:
        text = f.attrs.get("model_config")
        if text is None:
            raise ModelFileError("the .h5 file has no model_config attribute: it holds weights only (save_weights), "
                                 "not a whole model")
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        if not isinstance(text, str) or len(text) > MAX_CONFIG_BYTES:
            raise ModelFileError(f"model_config must be JSON text of at most {MAX_CONFIG_BYTES:,} bytes")
        stack = _stack(_chain(_json(text, "model_config")))
        root, weights = _h5_get(f, "model_weights"), {}
        for layer in stack.values():
            group = _h5_get(root, layer["name"])
            names = group.attrs.get("weight_names", [])
            weights[layer["name"]] = _layer_arrays(layer, group, [n.decode() if isinstance(n, bytes) else str(n)
                                                                  for n in names])
    return _build(stack, weights)


def _chain(config):
    """The layers of a Sequential, or of a Functional model that is one chain, in order: [{class_name, name,
    config}]; a Functional model's layer that reads any other than the one before it is refused."""
    kind, body = config.get("class_name"), config.get("config")
    if kind not in ("Sequential", "Functional", "Model") or not isinstance(body, dict):
        raise ModelFileError(f"the model must be a Keras Sequential or Functional model, got {short(kind)}")
    raw = body.get("layers")
    if not isinstance(raw, list) or not 2 <= len(raw) <= 16:
        raise ModelFileError(f"the model must list 2 to 16 layers, got {short(raw)}")
    layers, previous = [], None
    for layer in raw:
        cls = layer.get("class_name") if isinstance(layer, dict) else None
        conf = layer.get("config") if isinstance(layer, dict) else None
        if not isinstance(cls, str) or not isinstance(conf, dict) or not isinstance(conf.get("name"), str):
            raise ModelFileError(f"each layer must be an object with class_name and config.name, got {short(layer)}")
        name = conf["name"]
        if "/" in name or name in ("", ".", ".."):
            raise ModelFileError(f"layer names must be plain names, got {short(name)}")
        inbound = _inbound(layer) if kind != "Sequential" and cls != "InputLayer" else [previous]
        if inbound != [previous]:
            raise ModelFileError(f"the model must be one chain of layers: layer {name!r} ({cls}) reads "
                                 f"{', '.join(map(repr, inbound[:3])) or 'nothing'}, not the layer before it, "
                                 f"{previous!r}")
        layers.append({"class_name": cls, "name": name, "config": conf})
        previous = name
    return layers


def _inbound(layer):
    """The names of the layers a Functional model's layer reads: Keras 3 writes {"keras_history": [name, 0, 0]},
    Keras 2 [[name, 0, 0, {}]]."""
    found = []

    def walk(node, depth=0):
        if depth > 8:
            return
        if isinstance(node, dict):
            history = node.get("keras_history")
            if isinstance(history, list) and history and isinstance(history[0], str):
                found.append(history[0])
            else:
                for value in node.values():
                    walk(value, depth + 1)
        elif isinstance(node, list):
            if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
                found.append(node[0])
            else:
                for value in node:
                    walk(value, depth + 1)

    walk(layer.get("inbound_nodes", []))
    return found


def _float_array(value, what):
    """A finite float32 tensor of at most MAX_ELEMENTS values, from any float array."""
    t = torch.as_tensor(np.asarray(value))
    if not t.is_floating_point():
        raise ModelFileError(f"{what} must be a float array, got {t.dtype} {tuple(t.shape)}")
    if t.numel() > MAX_ELEMENTS:
        raise ModelFileError(f"{what} must hold at most {MAX_ELEMENTS:,} values, got shape {tuple(t.shape)}")
    t = t.float()
    if not torch.isfinite(t).all():
        raise ModelFileError(f"{what} must be finite, got {t[~torch.isfinite(t)][0].item()}")
    return t


def _setting(layer, key, allowed, default=None):
    """A layer's config value, refused unless allowed (the layer's name, class and the value in the message)."""
    value = layer["config"].get(key, default)
    if value not in allowed:
        raise ModelFileError(f"layer {layer['name']!r} ({layer['class_name']}) has {key}={short(value)}; supported: "
                             f"{', '.join(map(repr, allowed))}")
    return value


def _stack(layers):
    """The layers that compute, by role: {"Embedding"?, "RNN", "Flatten"?, "Dense"}, in that order, each once;
    Dropout and InputLayer anywhere are identities at inference. The first other layer is refused."""
    pattern = iter(("Embedding", "RNN", "Flatten", "Dense"))
    stack = {}
    for layer in layers:
        if layer["class_name"] in SKIPPED:
            continue
        role = "RNN" if layer["class_name"] in KERAS_RNNS else layer["class_name"]
        if not any(role == step for step in pattern):  # advances through the pattern: each step once, in order
            raise ModelFileError(f"layer {layer['name']!r} ({layer['class_name']}) is not supported: rnnlab reads "
                                 "[Embedding] → SimpleRNN, LSTM or GRU → [Flatten] [Dropout] → Dense")
        stack[role] = layer
    if "RNN" not in stack or "Dense" not in stack:
        raise ModelFileError(f"the model must have one SimpleRNN, LSTM or GRU and a Dense layer at the end, got "
                             f"{' → '.join(layer['class_name'] for layer in stack.values())}")
    return stack


def _build(stack, weights):
    """(SequenceClassifier, the layers as origin names them) from the layers of _stack and their weight arrays."""
    rnn, dense, embedding = stack["RNN"], stack["Dense"], stack.get("Embedding")
    cell, options = KERAS_RNNS[rnn["class_name"]], {}
    for key in ("go_backwards", "stateful", "return_state"):
        _setting(rnn, key, (False,), False)
    sequences = _setting(rnn, "return_sequences", (False, True), False)
    if cell == "simple_rnn":
        options["nonlinearity"] = _setting(rnn, "activation", ("tanh", "relu", "linear"), "tanh")
    else:
        _setting(rnn, "activation", ("tanh",), "tanh")
        _setting(rnn, "recurrent_activation", ("sigmoid",), "sigmoid")
    if cell == "gru":
        _setting(rnn, "reset_after", (True,), True)
    if embedding is not None:
        _setting(embedding, "mask_zero", (False,), False)  # masking skips the padded steps; rnnlab runs them
    if "Flatten" in stack and not sequences:
        raise ModelFileError(f"layer {stack['Flatten']['name']!r} (Flatten) needs return_sequences=True in "
                             f"{rnn['name']!r}")
    activation = _setting(dense, "activation", ("sigmoid", "softmax", "linear"), "linear")
    dense_bias = _setting(dense, "use_bias", (True, False), True)
    arrays = [] if embedding is None else _arrays(embedding, weights, ("embeddings",))
    arrays += _arrays(rnn, weights, ("kernel", "recurrent_kernel", "bias")[: 3 if rnn["config"].get("use_bias", True)
                                                                             else 2])
    arrays += _arrays(dense, weights, ("kernel", "bias")[: 2 if dense_bias else 1])
    if not dense_bias:
        arrays.append(torch.zeros(arrays[-1].shape[-1]))
    head = "last" if not sequences else "flatten" if "Flatten" in stack else "each"
    classes = arrays[-1].shape[0]
    if activation == "sigmoid" and classes != 1:
        raise ModelFileError(f"layer {dense['name']!r} (Dense) has activation 'sigmoid' on {classes} units "
                             "(multi-label); supported: sigmoid on 1 unit, softmax or linear")
    try:
        model = SequenceClassifier.from_keras(arrays, cell=cell, head=head, embedding=embedding is not None,
                                              regression=activation == "linear" and classes == 1, **options)
    except ValueError as e:
        raise ModelFileError(f"the weights do not fit the layers: {e}") from None
    names = [] if embedding is None else [f"Embedding({model.vocab_size}, {model.input_size})"]
    names += [f"{rnn['class_name']}({model.hidden_size})", *(["Flatten"] if head == "flatten" else []),
              f"Dense({classes})"]
    return _bounded(model), names


def _arrays(layer, weights, names):
    """A Keras layer's weight arrays, as many as `names` (kernel, bias…), each a finite float32 tensor."""
    found = weights.get(layer["name"], [])
    if len(found) != len(names):
        raise ModelFileError(f"layer {layer['name']!r} ({layer['class_name']}) must have {len(names)} weight "
                             f"arrays ({', '.join(names)}), got {len(found)}")
    return [_float_array(w, f"{layer['name']}.{name}") for w, name in zip(found, names)]


def _bounded(model):
    """The model, unless a size is beyond what one request may cost (every step costs (gates·hidden)² per unit of
    batch, a flatten head T·hidden·classes)."""
    sizes = {"vocabulary": (model.vocab_size or 1, MAX_VOCAB), "hidden size": (model.hidden_size, MAX_HIDDEN),
             "input size": (model.input_size, MAX_INPUT), "number of outputs": (model.num_classes, MAX_CLASSES),
             "sequence length of the Flatten head": (model.seq_len or 1, MAX_SEQ_LEN)}
    for what, (value, maximum) in sizes.items():
        if value > maximum:
            raise ModelFileError(f"the model's {what} must be at most {maximum:,}, got {value:,}")
    return model


# ---------------------------------------------------------------------------------------------- PyTorch


def _torch(data, archive, mapping):
    """A torch.save'd state_dict: its members stored (torch writes them so; a compressed one could declare any
    size), then torch.load(weights_only=True)."""
    if any(info.compress_type != zipfile.ZIP_STORED for info in archive.infolist()):
        raise ModelFileError("torch.save's zip members must be stored uncompressed, got a compressed one")
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 (pickle, zip and torch errors alike: the file is not a state_dict)
        raise ModelFileError(f"torch.load(weights_only=True) refused the file: {str(e).splitlines()[0][:200]}") \
            from None
    if isinstance(state, dict) and not all(torch.is_tensor(v) for v in state.values()):
        nested = [state.get(k) for k in ("state_dict", "model_state_dict", "model")]
        state = next((s for s in nested if isinstance(s, dict)), state)  # a checkpoint with a state_dict inside
    if not isinstance(state, dict) or not state or not all(isinstance(k, str) and torch.is_tensor(v)
                                                           for k, v in state.items()):
        raise ModelFileError(f"the file must hold a state_dict (names → tensors), got {type(state).__name__}")
    for key, value in state.items():
        if value.numel() > MAX_ELEMENTS:
            raise ModelFileError(f"state_dict[{short(key)}] must hold at most {MAX_ELEMENTS:,} values, got shape "
                                 f"{tuple(value.shape)}")
    return _from_state_dict(state, mapping)


def _from_state_dict(state, mapping):
    """Embedding, RNN and Linear found among the keys by name (…weight_ih_l0 …) and shape; every key must be
    used."""
    prefix = mapping.get("rnn")
    if prefix is None:
        prefixes = [k[: -len("weight_ih_l0")] for k in state if k.endswith("weight_ih_l0")]
        if len(prefixes) != 1:
            hint = ": pass mapping={'rnn': prefix}" if prefixes else ""
            raise ModelFileError(f"the state_dict must hold one recurrent layer (a key ending in weight_ih_l0), got "
                                 f"{len(prefixes)}{hint}")
        prefix = prefixes[0]
    rnn_keys = [k for k in state if k.startswith(prefix) and k[len(prefix):].startswith(("weight_", "bias_"))]
    for key in rnn_keys:
        if key[len(prefix):] not in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            raise ModelFileError(f"state_dict[{key!r}]: rnnlab reads one layer, one direction, no projection "
                                 "(weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0)")
    w_ih, w_hh = (state.get(f"{prefix}weight_{side}_l0") for side in ("ih", "hh"))
    if w_ih is None or w_hh is None or w_ih.dim() != 2 or w_hh.dim() != 2 or w_hh.shape[1] == 0:
        raise ModelFileError(f"the state_dict must hold {prefix}weight_ih_l0 and {prefix}weight_hh_l0 as matrices")
    hidden, gates = w_hh.shape[1], w_hh.shape[0] // w_hh.shape[1]
    if gates not in TORCH_RNNS or w_hh.shape[0] != gates * hidden:
        raise ModelFileError(f"{prefix}weight_hh_l0 must have shape (gates·hidden, hidden) with gates 1 (RNN), 3 "
                             f"(GRU) or 4 (LSTM), got {tuple(w_hh.shape)}")
    cell, torch_class = TORCH_RNNS[gates]
    options = {}
    if cell == "simple_rnn":
        options["nonlinearity"] = mapping.get("nonlinearity", "tanh")
    elif "nonlinearity" in mapping:
        raise ValueError(f"mapping['nonlinearity'] applies to nn.RNN only, got it for nn.{torch_class.__name__}")
    rnn = _load(torch_class(w_ih.shape[1], hidden, bias=f"{prefix}bias_ih_l0" in state, **options),
                {k[len(prefix):]: state[k] for k in rnn_keys}, prefix)
    used = set(rnn_keys)

    rest = {k: v for k, v in state.items() if k not in used}
    linear_key = mapping.get("linear") or _find(rest, "linear", lambda k, v: v.dim() == 2 and v.shape[1] % hidden == 0
                                                and _prefix(k) + "bias" in rest)
    if linear_key not in rest or rest[linear_key].dim() != 2:
        raise ModelFileError(f"the state_dict has no Linear head (a weight (outputs, hidden or T·hidden) beside a "
                             f"bias){' at ' + short(linear_key) if linear_key else ''}: pass mapping={{'linear': key}}")
    bias_key = _prefix(linear_key) + "bias"
    w = rest[linear_key]
    linear = {"weight": w, **({"bias": rest[bias_key]} if bias_key in rest else {})}
    dense = _load(nn.Linear(w.shape[1], w.shape[0], bias=bias_key in rest), linear, _prefix(linear_key))
    used |= {linear_key, bias_key}

    rest = {k: v for k, v in state.items() if k not in used}
    embedding_key = mapping["embedding"] if "embedding" in mapping else _find(
        rest, "embedding", lambda k, v: v.dim() == 2 and v.shape[1] == w_ih.shape[1])
    embedding = None
    if embedding_key is not None:
        if embedding_key not in rest or rest[embedding_key].dim() != 2:
            raise ModelFileError(f"mapping['embedding'] = {short(embedding_key)} must be a matrix of the state_dict")
        table = rest[embedding_key]
        embedding = _load(nn.Embedding(*table.shape), {"weight": table}, _prefix(embedding_key))
        used.add(embedding_key)
    left = [k for k in state if k not in used]
    if left:
        raise ModelFileError(f"state_dict[{short(left[0])}] {tuple(state[left[0]].shape)} is not part of "
                             "[Embedding] → RNN, LSTM or GRU → Linear: rnnlab reads those only")
    head = mapping.get("head") or ("last" if w.shape[1] == hidden else "flatten")
    try:
        model = SequenceClassifier.from_torch(embedding, rnn, dense, head=head)
    except ValueError as e:
        raise ModelFileError(f"the weights do not fit the layers: {e}") from None
    names = [] if embedding is None else [f"Embedding({model.vocab_size}, {model.input_size})"]
    names += [f"{torch_class.__name__}({hidden})", f"Linear({w.shape[1]}, {w.shape[0]})"]
    return _bounded(model), names


def _prefix(key):
    return key[: key.rfind(".") + 1]


def _find(state, what, fits):
    """The one key of `state`, a weight, that `fits`, or None; several are ambiguous."""
    found = [k for k, v in state.items() if k.endswith("weight") and fits(k, v)]
    if len(found) > 1:
        raise ModelFileError(f"the state_dict has {len(found)} keys that could be the {what} "
                             f"({', '.join(found[:3])}): pass mapping={{'{what}': key}}")
    return found[0] if found else None


def _load(module, state, prefix):
    """module with state loaded, every value checked a finite float first (prefix names its keys)."""
    try:
        module.load_state_dict({k: _float_array(v, f"state_dict[{prefix + k!r}]") for k, v in state.items()})
    except RuntimeError as e:
        raise ModelFileError(f"the state_dict's {prefix!r} does not fit nn.{type(module).__name__}: "
                             f"{' '.join(str(e).split())[:200]}") from None
    return module
