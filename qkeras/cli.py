"""The ``qkeras`` command.

Each sub-command is a thin wrapper: it parses arguments, calls the library, prints the
result, and turns a :class:`~qkeras.errors.QKerasError` into a one-line message and exit
status 2.

Example:
    >>> main(["--version"])  # doctest: +SKIP
    qkeras 0.1.0
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from qkeras.errors import ConfigurationError, QKerasError, ZooError

Handler = Callable[[argparse.Namespace], int]
_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Handler]] = {}


def command(name: str, setup: Callable[[argparse.ArgumentParser], None]):
    """Registers a sub-command: ``setup`` adds its arguments, the decorated function runs it."""

    def decorate(handler: Handler) -> Handler:
        if name in _COMMANDS:
            raise ValueError(f"qkeras command {name!r} is registered twice")
        _COMMANDS[name] = (setup, handler)
        return handler

    return decorate


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser of the ``qkeras`` command.

    Example:
        >>> build_parser().prog
        'qkeras'
    """
    from qkeras._version import __version__

    parser = argparse.ArgumentParser(prog="qkeras", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"qkeras {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (setup, handler) in sorted(_COMMANDS.items()):
        doc = (handler.__doc__ or "").strip().splitlines()
        sub = subparsers.add_parser(name, help=doc[0] if doc else None,
                                    description=doc[0] if doc else None)
        setup(sub)
        sub.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``qkeras`` command and returns its exit status.

    Example:
        >>> main([])  # doctest: +ELLIPSIS
        usage: qkeras ...
        2
    """
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_usage(sys.stdout)
        return 2
    try:
        return int(args.handler(args) or 0)
    except QKerasError as err:
        print(f"qkeras {args.command}: {err}", file=sys.stderr)
        return 2


# Sub-commands -------------------------------------------------------------------------
# Each block below registers one command; the work itself lives in the library.


def _demo_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=60, help="maximum epochs (default 60)")
    parser.add_argument("--qubits", type=int, default=4, help="qubits (default 4)")
    parser.add_argument("--layers", type=int, default=2, help="ansatz layers (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="split and weight seed")
    parser.add_argument("--output", default="demo_output", help="model and log folder")


@command("demo", _demo_args)
def _demo(args: argparse.Namespace) -> int:
    """Train a hybrid quantum-classical classifier on breast-cancer data, end to end."""
    from qkeras import demo

    print("qkeras demo: Dense -> QuantumDense -> Dense on Breast Cancer Wisconsin "
          "(569 samples, 30 features; stratified 60/20/20 split)")
    verbose = 1 if sys.stdout.isatty() else 2
    r = demo.run(epochs=args.epochs, qubits=args.qubits, layers=args.layers, seed=args.seed,
                 output_dir=args.output, verbose=verbose)
    n_train, n_val, n_test = r.split_sizes
    print(f"\nsplit: train {n_train}, validation {n_val}, held-out test {n_test}; "
          f"{r.epochs_run} epochs (early stopping on validation loss)")
    print(f"{'model':<34}{'params':>8}{'test accuracy':>16}{'test AUROC':>12}")
    print(f"{'hybrid (QuantumDense, ' + str(args.qubits) + ' qubits)':<34}"
          f"{r.quantum_params:>8}{r.test_accuracy:>16.3f}{r.test_auroc:>12.3f}")
    print(f"{'classical twin (Dense tanh)':<34}{r.classical_params:>8}"
          f"{r.classical_accuracy:>16.3f}{r.classical_auroc:>12.3f}")
    print("(one split and seed: a sanity check, not evidence of a quantum advantage)")
    status = "OK, identical" if r.reload_max_abs_diff == 0 else "MISMATCH"
    print(f"saved {r.model_path}; reloaded predictions: {status} "
          f"(max |diff| = {r.reload_max_abs_diff:.2e})")
    print(f"TensorBoard: tensorboard --logdir {r.log_dir}    ({r.seconds:.0f} s in all)")
    _demo_zoo()
    return 0 if r.reload_max_abs_diff == 0 else 1


def _demo_zoo() -> None:
    from qkeras import demo

    z = demo.classify_sample()
    report = z.report
    print(f"\nzoo model {z.name} {z.version} (loaded offline, sha256 verified: {z.source})")
    print(f"on {report.n_samples} bundled real chest X-rays from the PneumoniaMNIST test "
          f"split ({report.class_counts}), never seen in training")
    print(f"images: {z.attribution}")
    (tn, fp), (fn, tp) = report.confusion_matrix
    print(f"operating threshold {z.threshold:.3f} (chosen on validation data); "
          f"TP {tp}  FN {fn}  TN {tn}  FP {fp}")
    for key, label in (("sensitivity", "sensitivity"), ("specificity", "specificity"),
                       ("ppv", "PPV"), ("npv", "NPV"), ("accuracy", "accuracy"),
                       ("auroc", "AUROC")):
        if key in report.metrics:
            print(f"  {label:<12} {report.metrics[key]}")
    print("(48 images give wide intervals; the card's figures on all 624 test images: "
          f"qkeras zoo info {z.name}. Research only, not a medical device.)")


def _deid_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("in_dir", metavar="IN_DIR", help="folder of original DICOM files "
                        "(read only)")
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder for the de-identified "
                        "copies (outside IN_DIR)")
    parser.add_argument("--key-file", required=True, metavar="K",
                        help="secret key file (>= 16 bytes) for the UID map; never written out")
    parser.add_argument("--retain-dates", action="store_true",
                        help="Retain Longitudinal Temporal Information with Full Dates Option")
    parser.add_argument("--retain-patient-characteristics", action="store_true",
                        help="Retain Patient Characteristics Option (age, sex, size, weight...)")
    parser.add_argument("--retain-uids", action="store_true", help="Retain UIDs Option")
    parser.add_argument("--audit", metavar="FILE",
                        help="audit log, JSON lines (default OUT_DIR/deid-audit.jsonl)")


@command("deid", _deid_args)
def _deid(args: argparse.Namespace) -> int:
    """De-identify a folder of DICOM files (PS3.15 Annex E Basic Profile)."""
    from qkeras.medical import deid

    key = deid.read_key(args.key_file)
    report = deid.deidentify_tree(
        args.in_dir, args.out_dir, key, retain_dates=args.retain_dates,
        retain_patient_characteristics=args.retain_patient_characteristics,
        retain_uids=args.retain_uids, audit=args.audit)
    print(f"qkeras deid: {len(report.written)} file(s) de-identified, "
          f"{len(report.failed)} failed, {len(report.flagged)} flagged")
    for path in report.flagged:
        print(f"  check pixel data for burned-in text: {path}")
    for failure in report.failed:
        print(f"  failed: {failure.path}: {failure.reason}", file=sys.stderr)
    print(f"audit log: {report.audit}")
    return 0 if report.ok else 1


def _export_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="a saved Keras model (.keras, .h5 or SavedModel)")
    parser.add_argument("directory", help="export directory, or with --name the base "
                        "directory of TF Serving's <base>/<name>/<version>/ layout")
    parser.add_argument("--name", help="model name: write <directory>/<name>/<version>/")
    parser.add_argument("--version", type=int, help="version (default: the next free one)")
    parser.add_argument("--no-portable", dest="portable", action="store_false",
                        help="keep TensorFlow Quantum ops (the result then needs TFQ)")
    parser.add_argument("--xla", action="store_true",
                        help="XLA-compile the simulation (TF Serving needs "
                             "--xla_cpu_compilation_enabled=true on CPU)")


@command("export", _export_args)
def _export(args: argparse.Namespace) -> int:
    """Export a saved model as a SavedModel for TensorFlow Serving."""
    import qkeras  # noqa: F401  (registers the layers with Keras)
    from qkeras import export, keras
    from qkeras.errors import ExportError

    try:
        model = keras.models.load_model(args.model)
    except (OSError, ValueError) as err:
        raise ExportError(f"cannot load {args.model}: {err}") from err
    if args.name:
        path = export.for_serving(model, args.directory, args.name, args.version,
                                  portable=args.portable, xla=args.xla)
    else:
        path = export.saved_model(model, args.directory, portable=args.portable, xla=args.xla)
    kind = "portable (core TensorFlow ops only)" if args.portable else "with TFQ ops"
    print(f"exported {args.model} -> {path} [{kind}], signature 'serving_default'")
    return 0


def _zoo_args(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="zoo_action", metavar="ACTION", required=True)
    actions.add_parser("list", help="list the released models")
    for name, text in (("info", "show a model's entry"),
                       ("download", "download and verify a model's weights"),
                       ("evaluate", "recompute a model's metrics from weights and data")):
        sub = actions.add_parser(name, help=text)
        sub.add_argument("name", help="zoo model name (kebab-case)")
        sub.add_argument("--version", help="version (default: the newest)")
        if name == "info":
            sub.add_argument("--json", action="store_true", help="print the entry as JSON")
        if name == "download":
            sub.add_argument("--force", action="store_true", help="download even if cached")
        if name == "evaluate":
            sub.add_argument("--data", help="MedMNIST .npz file or flag, or the image tree "
                             "the model was trained on; its test split is used (not needed "
                             "for generators of built-in data)")
            sub.add_argument("--resamples", type=int, default=1000,
                             help="bootstrap resamples (default 1000)")


def _zoo_list() -> None:
    from qkeras import zoo

    entries = zoo.list()
    if not entries:
        print("qkeras zoo: no model is released yet (the registry is empty). Recipes that "
              "will train them are in zoo/<name>/recipe.yaml; see zoo/README.md.")
        return
    print(f"{'name':<30}{'version':<9}{'task':<27}{'params':>8}  test metric (95% CI)")
    for e in entries:
        key = next((k for k in ("accuracy", "mmd", "relative_entropy") if k in e.metrics),
                   None)
        shown = f"{key} {e.metrics[key]}" if key else "n/a"
        if "auroc" in e.metrics:
            shown += f", AUROC {e.metrics['auroc'].value:.3f}"
        print(f"{e.name:<30}{e.version:<9}{e.task:<27}{e.num_params:>8}  {shown}")


def _zoo_info(entry, as_json: bool) -> None:
    import json

    if as_json:
        print(json.dumps(entry.to_dict(), indent=2))
        return
    print(f"{entry.name} {entry.version} ({entry.task}); classes: {', '.join(entry.classes)}")
    print(f"input: {entry.inputs.shape} {entry.inputs.dtype} in {entry.inputs.value_range}, "
          f"{entry.inputs.modality}; {entry.inputs.preprocessing}")
    print(f"data: {entry.data}; metrics on {entry.split}:")
    for name, metric in entry.metrics.items():
        print(f"  {name:<12} {metric}")
    print(f"intended use: {entry.intended_use}")
    print(f"licence: {entry.licence}\nattribution: {entry.attribution}")
    print(f"file: {entry.file} sha256 {entry.sha256} ({entry.size} bytes)")
    print(f"recipe: {entry.recipe}")
    for version, change in entry.changelog.items():
        print(f"  {version}: {change}")


@command("zoo", _zoo_args)
def _zoo(args: argparse.Namespace) -> int:
    """List, inspect, download and evaluate the pretrained models of the zoo."""
    from qkeras import zoo

    if args.zoo_action == "list":
        _zoo_list()
    elif args.zoo_action == "info":
        _zoo_info(zoo.info(args.name, args.version), args.json)
    elif args.zoo_action == "download":
        path = zoo.download(args.name, args.version, force=args.force)
        entry = zoo.info(args.name, args.version)
        print(f"{entry.name} {entry.version}: {path} (sha256 {entry.sha256} verified)")
    else:
        _zoo_evaluate(args)
    return 0


def _zoo_evaluate(args: argparse.Namespace) -> None:
    from qkeras import zoo
    from qkeras.zoo.entry import Metric

    entry = zoo.info(args.name, args.version)
    if entry.task != "generation" and args.data is None:
        raise ConfigurationError(f"{entry.name} is evaluated on its test split: pass --data "
                                 "PATH (the MedMNIST .npz file or the image tree).")
    result = zoo.evaluate(args.name, args.data, version=args.version,
                          n_resamples=args.resamples)
    if entry.task == "generation":
        estimates, size = {k: Metric(**v) for k, v in result.items()}, ""
    else:
        estimates, size = result.metrics, f": {result.n_samples} images"
    print(f"{entry.name} {entry.version} on {args.data or 'its built-in data'}{size}")
    print(f"{'metric':<20}{'recomputed':<32}{'released':<32}match")
    mismatches = 0
    for name, estimate in estimates.items():
        released = entry.metrics.get(name)
        same = released is not None and str(released) == str(estimate)
        mismatches += released is not None and not same
        print(f"{name:<20}{str(estimate):<32}{str(released) if released else 'n/a':<32}"
              f"{'yes' if same else 'n/a' if released is None else 'NO'}")
    if mismatches:
        raise ZooError(f"{mismatches} metric(s) of {entry.name} {entry.version} differ from "
                       "the released card at the printed precision.")


def _serve_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base_dir", metavar="MODEL_BASE_DIR", nargs="?",
                        help="<base>/<name>/<version>/ SavedModels (or <name>/<version>/, or a "
                             ".keras file); optional with --zoo")
    parser.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="interface (default 127.0.0.1; 0.0.0.0 in a container)")
    parser.add_argument("--model-name", help="serve only this model (or name the single one)")
    parser.add_argument("--zoo", action="append", default=[], metavar="NAME",
                        help="also serve this zoo model (repeatable)")
    parser.add_argument("--version-policy", choices=("latest", "all"), default="latest",
                        help="serve the latest version only (default) or all")
    parser.add_argument("--label", action="append", default=[], metavar="LABEL=VERSION",
                        help="version label of --model-name, e.g. stable=1 (repeatable)")
    parser.add_argument("--poll-seconds", type=float, default=2.0,
                        help="hot-reload scan interval (default 2; 0 disables)")
    parser.add_argument("--no-batching", dest="batching", action="store_false",
                        help="one model call per request")
    parser.add_argument("--batch-window-ms", type=float, default=2.0,
                        help="micro-batch window (default 2 ms)")
    parser.add_argument("--max-batch", type=int, default=64, help="rows per model call (64)")
    parser.add_argument("--batch-sizes", default="auto", metavar="auto|none|N,N,...",
                        help="allowed rows per batched call, a batch padded up to the next "
                        "(TF Serving's allowed_batch_sizes; the last must be --max-batch); "
                        "auto (default): powers of two for XLA-compiled models, which "
                        "compile once per shape, no padding for others")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                        help="do not run an XLA-compiled model at each allowed batch size "
                        "before it serves (XLA then compiles on the first such request)")
    parser.add_argument("--jit", action="store_true",
                        help="XLA-compile each model's signatures whole when it loads, as "
                        "an export with --xla (2-5x faster per call on CPU); a model XLA "
                        "cannot compile runs uncompiled, with a warning")
    parser.add_argument("--no-fast-path", dest="fast_path", action="store_false",
                        help="answer :predict and /infer through ASGI like every other "
                        "request, instead of in the HTTP protocol itself")
    parser.add_argument("--no-handoff", dest="handoff", action="store_false",
                        help="run batches on the --threads model threads, without the "
                        "event loop waiting until a thread has taken each batch")
    parser.add_argument("--max-body-bytes", type=int, default=16 * 2**20,
                        help="largest request body (default 16 MiB)")
    parser.add_argument("--max-rows", type=int, default=1024,
                        help="most instances per request (default 1024)")
    parser.add_argument("--api-key-env", metavar="VAR",
                        help="require a token from this environment variable (comma-separated)")
    parser.add_argument("--api-key-file", metavar="FILE", help="require a token from FILE")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="allow this origin by CORS (off by default; repeatable)")
    parser.add_argument("--ui", action="store_true", help="serve the demo page at /ui/")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false",
                        help="do not write JSON access lines to stderr")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for model calls without batching, and for batches "
                        "with --no-handoff (default 2)")
    parser.add_argument("--workers", type=int, default=1, metavar="N",
                        help="server processes sharing the port, each with its own copy of "
                        "the models (default 1: one process uses about one core)")
    parser.add_argument("--intra-op-threads", type=int, default=0, metavar="N",
                        help="TensorFlow threads inside one op (default 0: TensorFlow "
                        "chooses); 1 suits small models on few cores")
    parser.add_argument("--inter-op-threads", type=int, default=0, metavar="N",
                        help="TensorFlow threads running ops side by side (default 0)")


def _batch_sizes(text: str, max_batch: int) -> tuple[int, ...] | str | None:
    """``--batch-sizes``: ``"auto"``, ``None`` (``none``) or the checked sizes."""
    from qkeras.serve.batching import check_batch_sizes

    word = text.strip().lower()
    if word in ("auto", "none"):
        return None if word == "none" else "auto"
    try:
        sizes = [int(part) for part in word.split(",")]
    except ValueError:
        raise ConfigurationError(f"--batch-sizes must be auto, none or comma-separated "
                                 f"integers such as 8,16,32; got {text!r}.") from None
    return check_batch_sizes(sizes, max_batch)


#: Environment variable that carries ``qkeras serve``'s settings to its worker processes.
WORKER_SETTINGS_ENV = "QKERAS_SERVE_WORKER_SETTINGS"


def _serve_settings(args: argparse.Namespace):
    """Checks ``qkeras serve``'s flags: ``(labels, tokens, batch_sizes)``; loads nothing."""
    from qkeras.serve.auth import read_tokens

    if args.base_dir is None and not args.zoo:
        raise ConfigurationError("Give MODEL_BASE_DIR or --zoo NAME: there is nothing to serve.")
    if args.workers < 1:
        raise ConfigurationError(f"--workers must be 1 or more; got {args.workers}.")
    labels = {}
    for item in args.label:
        label, _, version = item.partition("=")
        if not label or not version.isdigit():
            raise ConfigurationError(f"--label must be LABEL=VERSION, e.g. stable=1; got "
                                     f"{item!r}.")
        labels[label] = int(version)
    tokens = read_tokens(env=args.api_key_env, file=args.api_key_file)
    if (args.api_key_env or args.api_key_file) and not tokens:
        raise ConfigurationError("The API key source holds no token; put one in it.")
    return labels, tokens, _batch_sizes(args.batch_sizes, args.max_batch)


def _serve_app(args: argparse.Namespace):
    """The application of one server process: logging, TensorFlow's threads, the models."""
    from qkeras.serve import ServeOptions, build_repository, create_app
    from qkeras.serve.server import tensorflow_threads

    labels, tokens, batch_sizes = _serve_settings(args)
    logging.getLogger("qkeras").setLevel(logging.INFO)
    access = logging.getLogger("qkeras.serve.access")
    access.setLevel(logging.INFO if args.access_log else logging.WARNING)
    access.propagate = False  # one JSON object a line, nothing around it
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access.addHandler(handler)
    tensorflow_threads(args.intra_op_threads, args.inter_op_threads)
    repo = build_repository(args.base_dir, model_name=args.model_name, zoo=args.zoo,
                            version_policy=args.version_policy, poll_seconds=args.poll_seconds,
                            labels=labels)
    options = ServeOptions(batching=args.batching, batch_window_ms=args.batch_window_ms,
                           max_batch=args.max_batch, max_body_bytes=args.max_body_bytes,
                           max_rows=args.max_rows, tokens=tuple(tokens),
                           cors_origins=tuple(args.cors_origin), ui=args.ui,
                           model_threads=args.threads, batch_sizes=batch_sizes,
                           warm_up=args.warm_up, fast_path=args.fast_path,
                           handoff=args.handoff, jit=args.jit)
    return create_app(repo, options), repo


def serve_worker_app():
    """The application of one worker process of ``qkeras serve --workers N``, built from
    the settings the supervising process put in ``QKERAS_SERVE_WORKER_SETTINGS``.

    Each worker calls it once, before it listens (see
    :func:`qkeras.serve.server.run_workers`).

    Raises:
        ConfigurationError: The settings are missing (not started by ``qkeras serve``).

    Example:
        >>> serve_worker_app()  # outside a worker  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        qkeras.errors.ConfigurationError: QKERAS_SERVE_WORKER_SETTINGS is not set: ...
    """
    import json
    import os

    settings = os.environ.get(WORKER_SETTINGS_ENV)
    if not settings:
        raise ConfigurationError(f"{WORKER_SETTINGS_ENV} is not set: start workers with "
                                 "qkeras serve --workers N.")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return _serve_app(argparse.Namespace(**json.loads(settings)))[0]


@command("serve", _serve_args)
def _serve(args: argparse.Namespace) -> int:
    """Serve models over TF Serving's REST API and KServe v2 (with metrics and a demo page)."""
    import json

    from qkeras.serve import run, run_workers

    where = f"http://{args.host}:{args.port}"
    page = f" (demo page {where}/ui/)" if args.ui else ""
    if args.workers > 1:
        _serve_settings(args)  # bad flags fail here, before any worker starts
        logging.getLogger("qkeras").setLevel(logging.INFO)
        settings = {k: v for k, v in vars(args).items() if k != "handler"}
        print(f"qkeras serve: {args.workers} worker processes at {where}/v1/models/<name>"
              f"{page}", flush=True)
        return run_workers("qkeras.cli:serve_worker_app", args.workers,
                           environ={WORKER_SETTINGS_ENV: json.dumps(settings)},
                           host=args.host, port=args.port)
    app, repo = _serve_app(args)
    print(f"qkeras serve: {', '.join(repo.names())} at {where}/v1/models/<name>{page}",
          flush=True)
    run(app, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
