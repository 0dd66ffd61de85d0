netspec diff lenet5.yaml lenet5.yaml --exit-code
