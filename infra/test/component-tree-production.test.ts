import { describeComponentTree } from './support/component-tree.js'

describeComponentTree('production')
