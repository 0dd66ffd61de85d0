netspec diff lenet5.yaml lenet5.yaml --set-b num_classes=100 --exit-code
