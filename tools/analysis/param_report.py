"""Binary vs real parameter counts of the detectors built from configs.

    python tools/analysis/param_report.py CONFIG [CONFIG ...]
"""
import argparse

from mmdet.registry import MODELS
from mmdet.utils import register_all_modules
from mmengine.config import Config

import rbonn_det  # noqa: F401
from rbonn_det.deploy import count_parameters, format_parameter_table


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('configs', nargs='+')
    args = parser.parse_args()
    register_all_modules()
    for path in args.configs:
        model = MODELS.build(Config.fromfile(path).model)
        print(format_parameter_table(count_parameters(model), title=path) + '\n')


if __name__ == '__main__':
    main()
