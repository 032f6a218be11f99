"""Binary vs real parameter counts of the detectors built from configs.

    python tools/analysis/param_report.py CONFIG [CONFIG ...]
"""
import argparse

from mmengine.config import Config

from rbonn_det.analysis import count_parameters
from rbonn_det.apis import build_model
from rbonn_det.registry import register_all_modules


def format_parameter_table(parts: dict, title: str = '') -> str:
    rows = [f'{title}' if title else '',
            f'{"part":<12}{"binary":>14}{"real":>14}{"1-bit MB":>11}{"fp32 MB":>10}{"saving":>9}']
    total = dict(binary=0, real=0, bits=0, fp32_bits=0)
    for name, c in list(parts.items()) + [('total', total)]:
        if name != 'total':
            for k in total:
                total[k] += c[k]
        saving = c['fp32_bits'] / c['bits'] if c['bits'] else 1.0
        rows.append(f'{name:<12}{c["binary"]:>14,}{c["real"]:>14,}{c["bits"] / 8e6:>11.2f}'
                    f'{c["fp32_bits"] / 8e6:>10.2f}{saving:>8.1f}x')
    return '\n'.join(r for r in rows if r)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='+')
    args = parser.parse_args()
    register_all_modules()
    for path in args.configs:
        model = build_model(Config.fromfile(path))
        print(format_parameter_table(count_parameters(model), title=path) + '\n')


if __name__ == '__main__':
    main()
