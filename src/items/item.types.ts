import { connectionTypes } from '../core/pagination';
import { Item } from './item.model';

export const ItemConnection = connectionTypes(Item, 'Item');
