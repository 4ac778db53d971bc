"""Run the demo's hybrid model on each vendor's offline hardware route.

Trains the demo model (breast-cancer data, ``qkeras.demo``) on the exact simulator, then
for each route: places the quantum layer on the device, prints the cost of the run before
anything is submitted, runs the test samples through the same layer on the device's
sampler, compares its expectations with the exact simulation and with the device-noise
simulation (``qkeras.noise.from_device``; noiseless routes: the exact one), and takes
one parameter-shift fine-tuning step on the device.

    python examples/run_on_hardware.py --shots 2000 --samples 16
"""

from __future__ import annotations

import argparse
import time

import cirq
import numpy as np
import tensorflow as tf

import qkeras as qk
from qkeras import demo, hardware, keras
from qkeras.circuits import feature_values

ROUTES = ("ibm:fake_manila", "google:virtual_rainbow", "rigetti:4q-pyqvm")


def quantum_inputs(model, x):
    """What the quantum layer receives: the encoder's output."""
    return model.get_layer("encoder")(x).numpy()


def simulate(layer, x, noise_model=None) -> np.ndarray:
    """<Z> per qubit by density-matrix simulation of the circuit the device runs."""
    spec, placed = layer.spec, layer._executor.placement
    weights = dict(zip(map(str, spec.weight_symbols), layer.kernel.numpy()))
    out = []
    for row in feature_values(spec.encoding, x):
        resolver = dict(zip(map(str, spec.data_symbols), row)) | weights
        circuit = placed.circuit if noise_model is not None else \
            spec.circuit + cirq.Circuit(cirq.measure(*spec.qubits, key="m"))
        measured = next(op for op in circuit.all_operations() if cirq.is_measurement(op)).qubits
        body = cirq.drop_terminal_measurements(cirq.resolve_parameters(circuit, resolver))
        if noise_model is not None:
            body = body.with_noise(noise_model)  # readout channels at the end
        qubits = sorted(body.all_qubits() | set(measured))
        rho = cirq.DensityMatrixSimulator(dtype=np.complex128).simulate(
            body, qubit_order=qubits).final_density_matrix
        index = {q: i for i, q in enumerate(qubits)}
        out.append([cirq.Z(q).expectation_from_density_matrix(rho, index).real
                    for q in measured])
    return np.array(out)


def standard_errors(got, want, shots) -> float:
    se = np.sqrt(np.clip(1 - want ** 2, 1e-4, None) / shots)
    return float(np.max(np.abs(got - want) / se))


def on_route(model, route, shots):
    """A copy of ``model`` whose quantum layer runs on ``route``."""
    config = model.get_config()
    for layer in config["layers"]:
        if layer["config"].get("name") == "quantum":
            layer["config"].update(backend=route, repetitions=shots,
                                   differentiator="parameter_shift")
    copy = keras.Sequential.from_config(config)
    copy.set_weights(model.get_weights())
    return copy


def run_route(model, route, x, y, shots):
    device_model = on_route(model, route, shots)
    layer = device_model.get_layer("quantum")
    sampler = layer._executor.sampler
    placed = layer._executor.placement
    print(f"\n== {route}: routed depth {placed.depth}, {placed.two_qubit_gates} two-qubit "
          "gates")
    print(hardware.estimate_cost(device_model, n_samples=len(x), training=False))
    print(hardware.estimate_cost(device_model, n_samples=len(x[:4]), batch_size=4))
    features = quantum_inputs(device_model, x)
    start = time.perf_counter()
    got = layer(features).numpy()
    seconds = time.perf_counter() - start
    exact = simulate(layer, features)
    noisy = ROUTES_NOISY.get(route, False)
    predicted = simulate(layer, features, qk.noise.from_device(sampler)) if noisy else exact
    print(f"expectations: {standard_errors(got, exact, shots):.2f} SE from exact, "
          f"{standard_errors(got, predicted, shots):.2f} SE from the device-noise "
          f"simulation ({len(x)} samples x {shots} shots, one job, {seconds:.2f} s)")
    loss = keras.losses.BinaryCrossentropy()
    before = float(loss(y[:4], model(x[:4])))
    with tf.GradientTape() as tape:
        value = loss(y[:4], device_model(x[:4]))
    grads = tape.gradient(value, device_model.trainable_variables)
    keras.optimizers.SGD(0.1).apply_gradients(zip(grads, device_model.trainable_variables))
    exact_copy = keras.Sequential.from_config(model.get_config())
    exact_copy.set_weights(device_model.get_weights())
    after = float(loss(y[:4], exact_copy(x[:4])))
    print(f"fine-tuning step on the device: loss {before:.4f} -> {after:.4f} "
          f"(exact evaluation); {sampler.jobs_submitted} jobs, {sampler.shots_used:,} shots")
    return {"route": route, "exact_se": standard_errors(got, exact, shots),
            "noise_se": standard_errors(got, predicted, shots), "depth": placed.depth,
            "two_qubit_gates": placed.two_qubit_gates, "loss_before": before,
            "loss_after": after}


ROUTES_NOISY = {"ibm:fake_manila": True}


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--routes", nargs="*", default=list(ROUTES))
    args = parser.parse_args(argv)
    (x_train, y_train), val, (x_test, y_test) = demo.load_data()
    model = demo.build_model(x_train.shape[1], qubits=2, layers=1)
    model.fit(x_train, y_train, validation_data=val, epochs=args.epochs, batch_size=32,
              verbose=0)
    print(f"trained on the simulator: test accuracy "
          f"{model.evaluate(x_test, y_test, verbose=0)[1]:.3f}")
    x, y = x_test[:args.samples], y_test[:args.samples, None]
    return [run_route(model, route, x, y, args.shots) for route in args.routes]


if __name__ == "__main__":
    main()
